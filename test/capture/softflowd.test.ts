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
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    ['-r', join(dir, files[0]), '-q', '-o', 'fmt:%sa|%sp|%da|%dp|%pr|%pkt|%byt'],
    {
      encoding: 'utf8',
    },
  );
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

test('softflowd (IPFIX via nfcapd/nfdump): same packets per direction, bytes differ only by Ethernet padding', async (t) => {
  for (const tool of ['softflowd', 'nfcapd', 'nfdump']) {
    if (!have(tool, '-h')) {
      t.skip(`${tool} not installed (apt-get install softflowd nfdump)`);
      return;
    }
  }
  for (const name of CAPTURES) {
    await t.test(name, async () => {
      const path = join('test/fixtures/pcap/ndpi', name);
      const theirs = await softflowdRecords(path);
      const ours = new Map<string, [number, number]>();
      const add = (k: string, p: number, b: number) => {
        if (p === 0) return;
        const o = ours.get(k) ?? [0, 0];
        ours.set(k, [o[0] + p, o[1] + b]);
      };
      for (const f of await coinradarFlows(path)) {
        const proto = f.proto === 6 ? 'TCP' : f.proto === 17 ? 'UDP' : String(f.proto);
        add(`${f.src} ${f.srcPort} ${f.dst} ${f.dstPort} ${proto}`, f.packets, f.bytes);
        add(`${f.dst} ${f.dstPort} ${f.src} ${f.srcPort} ${proto}`, f.revPackets, f.revBytes);
      }
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
