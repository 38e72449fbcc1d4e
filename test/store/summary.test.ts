// `summary --by` against nfdump's statistics (-s) on the same flows: softflowd exports the capture
// fixtures as NetFlow v5 to coinradar's collector and to nfcapd at once; every key's table must hold
// the same rows and counters as nfdump's, ranked the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetflowCollector } from '../../src/netflow/collector.js';
import { openFlowStore } from '../../src/store/open.js';
import type { SummaryKey, SummaryRow } from '../../src/store/store.js';
import { runCli } from '../cli-run.js';
import {
  canonIp,
  captureFixtures,
  exited,
  freeUdpPort,
  have,
  sleep,
  startNfcapd,
  stopNfcapd,
} from '../netflow/peers.js';

const missing = ['softflowd', 'nfcapd', 'nfdump'].filter((c) => !have(c));

/** nfdump's statistic for each key, its rows keyed as coinradar writes them. */
const NFDUMP_STAT: Record<Exclude<SummaryKey, 'country' | 'asn'>, string> = {
  dport: 'dstport:p',
  sport: 'srcport:p',
  proto: 'proto',
  src: 'srcip',
  dst: 'dstip',
};

function nfdumpStat(file: string, stat: string, order: string): SummaryRow[] {
  const r = spawnSync('nfdump', ['-r', file, '-s', `${stat}/${order}`, '-n', '0', '-o', 'csv', '-q'], {
    env: { ...process.env, TZ: 'UTC' },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`nfdump -s ${stat} failed: ${r.stderr}`);
  const rows: SummaryRow[] = [];
  for (const line of r.stdout.split('\n')) {
    const c = line.split(',');
    if (c.length < 14 || !/^\d{4}-/.test(c[0])) continue;
    const proto = c[3].trim().toLowerCase();
    const val = c[4].trim();
    const key = stat === 'proto' ? proto : stat.endsWith(':p') ? `${proto}/${val}` : canonIp(val);
    rows.push({ key, label: '', flows: Number(c[5]), packets: Number(c[7]), bytes: Number(c[9]) });
  }
  return rows;
}

const counters = (rows: SummaryRow[]) => new Map(rows.map((r) => [r.key, [r.flows, r.packets, r.bytes]]));

test('summary --by dport/sport/proto/src/dst equals nfdump -s on the same softflowd stream', async (t) => {
  if (missing.length) {
    t.skip(`${missing.join(', ')} not installed`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cr-sum-'));
  const db = join(dir, 'db.duckdb');
  const store = await openFlowStore(db);
  try {
    const collector = await NetflowCollector.start({ listen: 'udp://127.0.0.1:0', store, flushMs: 100 });
    const nfPort = await freeUdpPort();
    const nfcapd = await startNfcapd(dir, nfPort);
    for (const capture of captureFixtures()) {
      const sfd = spawn(
        'softflowd',
        ['-r', capture, '-n', `127.0.0.1:${collector.port},127.0.0.1:${nfPort}`, '-v', '5'],
        {
          stdio: 'ignore',
        },
      );
      assert.equal(await exited(sfd), 0);
    }
    await sleep(300);
    await collector.stop();
    const file = await stopNfcapd(nfcapd, dir);
    for (const order of ['bytes', 'packets'] as const) {
      const keys = Object.keys(NFDUMP_STAT) as (keyof typeof NFDUMP_STAT)[];
      const ours = await store.summarize({ by: keys, top: 1_000_000, order });
      for (const key of keys) {
        const theirs = nfdumpStat(file, NFDUMP_STAT[key], order);
        const mine = ours.get(key)!;
        assert.ok(theirs.length > 3, `nfdump gives rows for ${key}`);
        assert.deepEqual(counters(mine), counters(theirs), `${key} by ${order}: same rows and counters`);
        // Ranked the same way (ties may be ordered differently: compare the ranked counter).
        assert.deepEqual(
          mine.map((r) => r[order]),
          theirs.map((r) => r[order]),
          `${key} ranked by ${order}`,
        );
      }
    }
    const top = await store.summarize({ by: ['dport'], top: 5 });
    assert.equal(top.get('dport')!.length, 5, '--top limits each table');
  } finally {
    await store.close();
  }
  try {
    // The CLI: only the tables asked for, in the order asked.
    const r = await runCli(['summary', '--db', db, '--by', 'dport', '--by', 'proto', '--top', '3']);
    assert.match(r.out, /^By destination port:\n[\s\S]*\n\nBy protocol:\n/);
    assert.doesNotMatch(r.out, /By country|flows, .* packets, .* bytes from/);
    const j = JSON.parse((await runCli(['summary', '--db', db, '--by', 'src', '--format', 'json'])).out);
    assert.deepEqual(Object.keys(j), ['src']);
    await assert.rejects(runCli(['summary', '--db', db, '--by', 'port']), /--by port: not a summary key/);
    await assert.rejects(runCli(['summary', '--db', db, '--top', 'abc']), /--top must be a whole number/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
