/**
 * Our flows against tshark on every capture, one tshark run per file: conversations
 * (`-z conv,tcp -z conv,udp`, the reference for the NES@FIT captures, which have no nDPI output)
 * and per-packet IP lengths (`ip.len`, `ipv6.plen`), the oracle for our IP-layer byte counts.
 * See peers.test.ts for how split flows and frame bytes are compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { FlowRecord } from '../../src/flow/record.js';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { asConversations, coinradarFlows, compare, tsharkReference } from './peers.js';

const hasTshark = spawnSync('tshark', ['-v']).status === 0;
const list = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .map((f) => join(dir, f));
const NDPI = list('test/fixtures/pcap/ndpi');
const NESFIT = list('test/fixtures/pcap/nesfit');

async function totals(path: string): Promise<{ packets: number; bytes: number; flows: FlowRecord[] }> {
  const flows = await coinradarFlows(path);
  return {
    packets: flows.reduce((a, f) => a + f.packets + f.revPackets, 0),
    bytes: flows.reduce((a, f) => a + f.bytes + f.revBytes, 0),
    flows,
  };
}

test('tshark: NES@FIT conversations and IP-layer bytes per capture', async (t) => {
  if (!hasTshark) {
    t.skip('tshark not installed (apt-get install tshark)');
    return;
  }
  assert.ok(NESFIT.length >= 5);
  for (const path of NESFIT) {
    await t.test(path, async () => {
      const ref = tsharkReference(path);
      assert.ok(ref, 'tshark failed');
      const ours = await totals(path);
      const convs = asConversations(ours.flows, (x, d) => (d === 'fwd' ? x.bytes : x.revBytes));
      compare(path, ref.conversations, convs, new Set(['TCP', 'UDP']));
      assert.equal(ours.packets, ref.ipPackets, 'IP packets');
      assert.equal(ours.bytes, ref.ipBytes, 'IP-layer bytes');
    });
  }
});

test('tshark: IP-layer bytes of the nDPI captures (one run over them concatenated)', async (t) => {
  if (!hasTshark || spawnSync('mergecap', ['-h']).error) {
    t.skip('tshark/mergecap not installed (apt-get install tshark)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'coinradar-tshark-'));
  try {
    const all = join(dir, 'all.pcapng');
    const m = spawnSync('mergecap', ['-a', '-F', 'pcapng', '-w', all, ...NDPI]);
    assert.equal(m.status, 0, String(m.stderr));
    const ref = tsharkReference(all);
    assert.ok(ref, 'tshark failed');
    let packets = 0;
    let bytes = 0;
    for (const path of NDPI) {
      const o = await totals(path);
      packets += o.packets;
      bytes += o.bytes;
    }
    assert.ok(NDPI.length >= 9);
    assert.equal(packets, ref.ipPackets, 'IP packets');
    assert.equal(bytes, ref.ipBytes, 'IP-layer bytes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
