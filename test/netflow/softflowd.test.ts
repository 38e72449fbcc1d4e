// softflowd exports each real capture as NetFlow v5, v9, IPFIX and bidirectional IPFIX to coinradar's
// live collector and to nfdump's nfcapd at once (`-n A,B` sends every datagram to both; a second
// -n would replace the first); per 5-tuple, coinradar's
// packets and bytes must equal what nfdump reads back, and so must the totals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetflowCollector } from '../../src/netflow/collector.js';
import { openFlowStore } from '../../src/store/open.js';
import {
  byFiveTuple,
  canonIp,
  captureFixtures,
  exited,
  freeUdpPort,
  have,
  nfdumpFlows,
  sleep,
  startNfcapd,
  stopNfcapd,
  type PeerFlow,
} from './peers.js';

const MODES: { name: string; args: string[]; bidirectional: boolean; icmp6TypeDropped?: boolean }[] = [
  { name: 'NetFlow v5', args: ['-v', '5'], bidirectional: false },
  // nfdump 1.7.1 puts the ICMPv6 type/code of v9 records nowhere (dst port 0), while its IPFIX
  // decoder puts it in the dst port as for ICMPv4; coinradar does the latter for every version, so
  // for this one comparison the ICMPv6 type/code is set aside (and checked to be non-zero).
  { name: 'NetFlow v9', args: ['-v', '9'], bidirectional: false, icmp6TypeDropped: true },
  { name: 'IPFIX', args: ['-v', '10', '-A', 'milli'], bidirectional: false },
  { name: 'IPFIX biflow (-b)', args: ['-v', '10', '-A', 'milli', '-b'], bidirectional: true },
];

const missing = ['softflowd', 'nfcapd', 'nfdump'].filter((c) => !have(c));

/**
 * One collector and one nfcapd per mode; softflowd replays every capture into both in turn (each run
 * is a new exporter session: its own source port, its own templates). Flows are compared per 5-tuple
 * over all captures (sums on both sides, so a 5-tuple seen in two captures still compares exactly).
 */
async function runMode(captures: string[], args: string[], icmp6TypeDropped = false) {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sfd-'));
  const store = await openFlowStore(':memory:');
  try {
    const collector = await NetflowCollector.start({ listen: 'udp://127.0.0.1:0', store, flushMs: 100 });
    const nfPort = await freeUdpPort();
    const nfcapd = await startNfcapd(dir, nfPort);
    for (const capture of captures) {
      const sfd = spawn(
        'softflowd',
        ['-r', capture, '-n', `127.0.0.1:${collector.port},127.0.0.1:${nfPort}`, '-a', ...args],
        {
          stdio: 'ignore',
        },
      );
      assert.equal(await exited(sfd), 0, `softflowd ${args.join(' ')} on ${capture}`);
    }
    await sleep(300);
    const r = await collector.stop();
    const nfFile = await stopNfcapd(nfcapd, dir);
    const theirs = nfdumpFlows(nfFile);
    const rows = await store.flows({});
    let icmp6Types = 0;
    const ours: PeerFlow[] = rows.map((f) => ({
      src: canonIp(f.src),
      dst: canonIp(f.dst),
      srcPort: f.sport,
      dstPort: icmp6TypeDropped && f.proto === 58 ? (f.dport && icmp6Types++, 0) : f.dport,
      proto: f.proto,
      packets: f.packets,
      bytes: f.bytes,
      revPackets: f.rev_packets,
      revBytes: f.rev_bytes,
    }));
    return { r, theirs, ours, rows, icmp6Types };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const mode of MODES) {
  test(`softflowd ${mode.name} → coinradar collect equals nfcapd/nfdump per flow`, async (t) => {
    if (missing.length) {
      t.skip(`${missing.join(', ')} not installed`);
      return;
    }
    const captures = captureFixtures();
    assert.ok(captures.length >= 10, 'capture fixtures present');
    const { r, theirs, ours, rows, icmp6Types } = await runMode(captures, mode.args, mode.icmp6TypeDropped);
    // softflowd -r writes flow times from its own uptime clock (1970 dates): the one problem allowed
    // is that one, named once; every flow is still stored.
    const d = r.diagnostics;
    assert.equal(
      d.get('problems') - d.get('problem.implausible-time'),
      0,
      `no other problems (${d.summary()})`,
    );
    assert.equal(d.get('problem.implausible-time'), 1, 'the 1970 times are named');
    assert.ok(d.get('flows.implausible-time') > 0);
    const a = byFiveTuple(ours);
    const b = byFiveTuple(theirs);
    const diffs: string[] = [];
    for (const [k, v] of b.keys) {
      const mine = a.keys.get(k);
      if (!mine) diffs.push(`missing ${k} ${JSON.stringify(v)}`);
      else if (JSON.stringify(mine) !== JSON.stringify(v))
        diffs.push(`${k}: ours ${JSON.stringify(mine)} nfdump ${JSON.stringify(v)}`);
    }
    for (const [k, v] of a.keys) if (!b.keys.has(k)) diffs.push(`extra ${k} ${JSON.stringify(v)}`);
    assert.deepEqual(diffs.slice(0, 12), [], `per-5-tuple differences (${diffs.length})`);
    assert.deepEqual(a.total, b.total, 'totals');
    for (const f of rows) {
      assert.equal(f.exporter, '127.0.0.1');
      assert.ok(f.position >= 1, 'position is the datagram number');
      assert.ok(Date.parse(f.first) <= Date.parse(f.last), 'first <= last');
    }
    assert.ok(b.total.flows > 1000, `softflowd exported flows (${b.total.flows})`);
    if (mode.icmp6TypeDropped) assert.ok(icmp6Types > 0, 'ICMPv6 type/code decoded into the dst port');
    if (mode.bidirectional) assert.ok(b.total.revPackets > 0, 'reverse counters present');
    else assert.equal(b.total.revPackets, 0);
  });
}
