/**
 * Our flows against softflowd, the exporter nfdump users run on captures (softflowd -r → IPFIX
 * → nfcapd on loopback → nfdump). softflowd exports one record per direction and, on these small
 * captures, expires flows only at end of file, so our flows (split by idle timeout and TCP
 * close) are summed per direction first. Packets must agree exactly.
 *
 * Bytes: softflowd counts the captured frame minus the link header, so the padding of short
 * Ethernet frames (a 40-byte TCP ACK travels in a 60-byte frame: 6 bytes) is included; NetFlow
 * from routers and coinradar count the IPv4 total length. So softflowd − ours per direction is
 * between 0 and 18 bytes per packet (the padding of a 28-byte IP packet), and 0 when no frame is
 * padded (bitcoin.pcap: 419,138 bytes both).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowRecord } from '../../src/flow/record.js';
import { NDPI_TRAIN } from '../detect/ndpi-train.js';
import { coinradarFlows } from './peers.js';

const have = (cmd: string, arg: string) => spawnSync(cmd, [arg]).error === undefined;
const CAPTURES = ['bitcoin.pcap', 'mining.pcapng', 'monero.pcap', 'irc.pcap', 'jsonrpc.pcap'];

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** softflowd's one-way records for a capture: "src sp dst dp proto" → [packets, bytes]. */
async function softflowdRecords(capture: string): Promise<Map<string, [number, number]>> {
  const dir = mkdtempSync(join(tmpdir(), 'coinradar-softflowd-'));
  const port = await freeUdpPort();
  const nfcapd = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600'], {
    stdio: 'ignore',
  });
  try {
    await sleep(800);
    const sf = spawnSync(
      'softflowd',
      ['-r', capture, '-n', `127.0.0.1:${port}`, '-v', '10', '-a', '-A', 'milli'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(sf.status, 0, sf.stderr);
    await sleep(500);
  } finally {
    nfcapd.kill('SIGTERM');
    await new Promise((r) => nfcapd.once('exit', r));
  }
  const files = readdirSync(dir).filter((f) => f.startsWith('nfcapd.'));
  assert.equal(files.length, 1, `nfcapd files in ${dir}`);
  const out = spawnSync(
    'nfdump',
    ['-6', '-r', join(dir, files[0]), '-q', '-o', 'fmt:%sa|%sp|%da|%dp|%pr|%pkt|%byt'],
    {
      encoding: 'utf8',
    },
  );
  rmSync(dir, { recursive: true, force: true });
  const m = new Map<string, [number, number]>();
  for (const line of out.stdout.split('\n')) {
    const f = line.split('|').map((x) => x.trim());
    if (f.length !== 7) continue;
    const k = `${f[0]} ${f[1]} ${f[2]} ${f[3]} ${f[4]}`;
    const o = m.get(k) ?? [0, 0];
    m.set(k, [o[0] + Number(f[5]), o[1] + Number(f[6])]);
  }
  return m;
}

/** Our flows as one-way records keyed as softflowdRecords keys them. */
function oneWay(flows: FlowRecord[]): Map<string, [number, number]> {
  const ours = new Map<string, [number, number]>();
  const add = (k: string, p: number, b: number) => {
    if (p === 0) return;
    const o = ours.get(k) ?? [0, 0];
    ours.set(k, [o[0] + p, o[1] + b]);
  };
  for (const f of flows) {
    const proto = f.proto === 6 ? 'TCP' : f.proto === 17 ? 'UDP' : String(f.proto);
    add(`${f.src} ${f.srcPort} ${f.dst} ${f.dstPort} ${proto}`, f.packets, f.bytes);
    add(`${f.dst} ${f.dstPort} ${f.src} ${f.srcPort} ${proto}`, f.revPackets, f.revBytes);
  }
  return ours;
}

const missingTool = () =>
  ['softflowd', 'nfcapd', 'nfdump'].find((tool) => !have(tool, '-h'))
    ? 'softflowd/nfcapd/nfdump not installed (apt-get install softflowd nfdump)'
    : false;

test('softflowd (IPFIX via nfcapd/nfdump): same packets per direction, bytes differ only by Ethernet padding', async (t) => {
  const missing = missingTool();
  if (missing) {
    t.skip(missing);
    return;
  }
  for (const name of CAPTURES) {
    await t.test(name, async () => {
      const path = join('test/fixtures/pcap/ndpi', name);
      const theirs = await softflowdRecords(path);
      const ours = oneWay(await coinradarFlows(path));
      assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
      for (const [k, [p, b]] of ours) {
        const [sp, sb] = theirs.get(k)!;
        assert.equal(p, sp, `${k} packets`);
        assert.ok(sb >= b && sb - b <= 18 * p, `${k}: softflowd ${sb} bytes, ours ${b}`);
      }
      if (name === 'bitcoin.pcap') {
        const total = [...ours.values()].reduce((a, [, b]) => a + b, 0);
        assert.equal(total, 419_138);
      }
    });
  }
});

/** One-way records summed per (source address, destination address). */
function hostPairs(m: Map<string, [number, number]>): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const [k, [p, b]] of m) {
    const [sa, , da] = k.split(' ');
    const o = out.get(`${sa} ${da}`) ?? [0, 0];
    out.set(`${sa} ${da}`, [o[0] + p, o[1] + b]);
  }
  return out;
}

test('softflowd on dns_fragmented.pcap: its fragment rule, and the same bytes per host pair as ours with and without reassembly', async (t) => {
  const missing = missingTool();
  const path = join(NDPI_TRAIN, 'dns_fragmented.pcap');
  if (missing || !existsSync(path)) {
    t.skip(missing || `the shared captures are not at ${NDPI_TRAIN}`);
    return;
  }
  const theirs = await softflowdRecords(path);
  // softflowd 1.1 puts a datagram's first fragment in the port flow and the rest in a flow
  // without ports (docs/capture.md compares the rules): the answer to 172.217.40.76 in two pieces.
  assert.deepEqual(theirs.get('193.24.227.238 53 172.217.40.76 56680 UDP'), [1, 1500]);
  assert.deepEqual(theirs.get('193.24.227.238 0 172.217.40.76 0 UDP'), [1, 250]);
  const theirPairs = hostPairs(theirs);
  // Ours reassembled: one packet of 1,750 bytes in the DNS flow, nothing without ports.
  const on = oneWay(await coinradarFlows(path));
  assert.deepEqual(on.get('193.24.227.238 53 172.217.40.76 56680 UDP'), [1, 1750]);
  assert.ok(
    [...on.keys()].every((k) => !/ 0 \S+ 0 /.test(k)),
    'no record without ports',
  );
  // Per host pair and direction: the same bytes (softflowd adds Ethernet padding of short
  // frames), and softflowd's packets exceed ours by the fragments merged into datagrams.
  const off = hostPairs(oneWay(await coinradarFlows(path, { reassemble: false })));
  let merged = 0;
  for (const [k, [p, b]] of hostPairs(on)) {
    const [sp, sb] = theirPairs.get(k)!;
    assert.ok(sb >= b && sb - b <= 18 * sp, `${k}: softflowd ${sb} bytes, ours ${b}`);
    assert.deepEqual(off.get(k), [sp, b], `${k}: without reassembly, softflowd's packets and our bytes`);
    merged += sp - p;
  }
  assert.equal(theirPairs.size, off.size);
  assert.equal(merged, 14 - 7, 'packets merged: 14 fragments into 7 datagrams');
});
