/**
 * Our flows on real captures against the flows nDPI lists for them (its own expected output,
 * `.ndpi.out`) and against tshark's conversation tables.
 *
 * Packets must agree exactly per 5-tuple and direction. Where we split a 5-tuple into several
 * flows (a new SYN after RST/FIN, idle or active timeout) and the peer does not, our flows of
 * that 5-tuple are summed first; the split itself is tested in flow-table.test.ts.
 *
 * Bytes: nDPI and tshark count link-layer frame bytes (pcap origLen: Ethernet header, VLAN tags,
 * padding of short frames); we count IP-layer bytes, as NetFlow does (IPv4 total length, IPv6
 * 40 + payload length). So per direction their bytes − ours must be at least the 14-byte
 * Ethernet header per packet and at most header + one VLAN tag + the padding of a minimum-size
 * frame (up to 18 bytes for a 28-byte UDP/ICMP packet) + a 4-byte FCS, per packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  asConversations,
  coinradarFlows,
  key,
  parseNdpiOut,
  tsharkConversations,
  type Conversation,
} from './peers.js';

const NDPI = 'test/fixtures/pcap/ndpi';
const NESFIT = 'test/fixtures/pcap/nesfit';

function merged(convs: Conversation[]): Map<string, Conversation> {
  const m = new Map<string, Conversation>();
  for (const c of convs) {
    const k = key(c);
    const o = m.get(k);
    if (!o) m.set(k, { ...c });
    else {
      o.packetsAB += c.packetsAB;
      o.packetsBA += c.packetsBA;
      o.bytesAB += c.bytesAB;
      o.bytesBA += c.bytesBA;
    }
  }
  return m;
}

function compare(file: string, ref: Conversation[], ours: Conversation[], only?: Set<string>): void {
  const mine = merged(ours);
  const theirs = merged(ref);
  const missing: string[] = [];
  const extra: string[] = [];
  const differ: string[] = [];
  for (const [k, r] of theirs) {
    const c = mine.get(k);
    if (!c) {
      missing.push(k);
      continue;
    }
    if (c.packetsAB !== r.packetsAB || c.packetsBA !== r.packetsBA) {
      differ.push(`${k}: ours ${c.packetsAB}/${c.packetsBA} pkts, peer ${r.packetsAB}/${r.packetsBA}`);
      continue;
    }
    for (const [peerBytes, ourBytes, pkts] of [
      [r.bytesAB, c.bytesAB, c.packetsAB],
      [r.bytesBA, c.bytesBA, c.packetsBA],
    ]) {
      const l2 = peerBytes - ourBytes;
      if (l2 < 14 * pkts || l2 > (14 + 4 + 18 + 4) * pkts) {
        differ.push(`${k}: peer frame bytes ${peerBytes} vs our IP bytes ${ourBytes} over ${pkts} packets`);
      }
    }
  }
  for (const k of mine.keys()) if (!theirs.has(k) && (!only || only.has(k.split(' ')[0]))) extra.push(k);
  assert.deepEqual({ missing, extra, differ }, { missing: [], extra: [], differ: [] }, file);
  assert.ok(theirs.size > 0, `${file}: the peer listed no flows`);
}

const captures = readdirSync(NDPI).filter((f) => /\.pcap(ng)?$/.test(f));

test('nDPI fixtures: same 5-tuples and packets per direction as nDPI lists', async (t) => {
  assert.ok(captures.length >= 9);
  for (const f of captures) {
    await t.test(f, async () => {
      const path = join(NDPI, f);
      const ref = parseNdpiOut(readFileSync(`${path}.ndpi.out`, 'utf8'));
      const ours = asConversations(await coinradarFlows(path), (x, d) =>
        d === 'fwd' ? x.bytes : x.revBytes,
      );
      compare(path, ref, ours);
    });
  }
});

test('nDPI fixtures: with timeouts as long as the capture, flows are nDPI flows one to one', async () => {
  // nDPI's reader keeps a flow for the whole file. Without timeouts our only extra flows are TCP
  // 5-tuples reused after a close: each such later flow must open with a SYN.
  for (const f of captures) {
    const path = join(NDPI, f);
    const theirs = parseNdpiOut(readFileSync(`${path}.ndpi.out`, 'utf8'));
    const flows = await coinradarFlows(path, { idleTimeoutMs: Infinity, activeTimeoutMs: Infinity });
    const seen = new Set<string>();
    let reused = 0;
    flows.sort((a, b) => a.firstMs - b.firstMs);
    for (const [k, fl] of asConversations(flows, () => 0).map((c, i) => [key(c), flows[i]] as const)) {
      if (seen.has(k)) {
        reused++;
        assert.ok(fl.proto === 6 && fl.tcpFlags & 2, `${path}: ${k} split without a new SYN`);
      }
      seen.add(k);
    }
    assert.equal(flows.length - reused, theirs.length, path);
  }
});

const hasTshark = spawnSync('tshark', ['-v']).status === 0;

test('nesfit captures: same TCP/UDP conversations and packets per direction as tshark', async (t) => {
  if (!hasTshark) {
    t.skip('tshark not installed (apt-get install tshark)');
    return;
  }
  const files = readdirSync(NESFIT).filter((f) => f.endsWith('.pcapng'));
  assert.ok(files.length >= 5);
  for (const f of files) {
    await t.test(f, async () => {
      const path = join(NESFIT, f);
      assert.ok(existsSync(path));
      const ref = tsharkConversations(path);
      assert.ok(ref, 'tshark failed');
      const ours = asConversations(await coinradarFlows(path), (x, d) =>
        d === 'fwd' ? x.bytes : x.revBytes,
      );
      compare(path, ref, ours, new Set(['TCP', 'UDP']));
    });
  }
});

test('IP-layer bytes: our byte totals equal the sum of tshark ip.len / ipv6.plen + 40 over all captures', async (t) => {
  if (!hasTshark) {
    t.skip('tshark not installed (apt-get install tshark)');
    return;
  }
  const files = [
    ...captures.map((f) => join(NDPI, f)),
    ...readdirSync(NESFIT)
      .filter((f) => f.endsWith('.pcapng'))
      .map((f) => join(NESFIT, f)),
  ];
  for (const path of files) {
    const r = spawnSync('tshark', ['-n', '-r', path, '-T', 'fields', '-e', 'ip.len', '-e', 'ipv6.plen'], {
      encoding: 'utf8',
    });
    let bytes = 0;
    let packets = 0;
    for (const line of r.stdout.split('\n')) {
      // The outer header comes first (ICMP errors quote an inner IP header after a comma).
      const [v4, v6] = line.split('\t');
      if (v4) bytes += Number(v4.split(',')[0]);
      else if (v6) bytes += 40 + Number(v6.split(',')[0]);
      else continue;
      packets++;
    }
    const flows = await coinradarFlows(path);
    const ours = flows.reduce((a, f) => a + f.bytes + f.revBytes, 0);
    const ourPackets = flows.reduce((a, f) => a + f.packets + f.revPackets, 0);
    assert.equal(ourPackets, packets, `${path}: packets`);
    assert.equal(ours, bytes, `${path}: bytes`);
  }
});
