/** The detection commands end to end: ingest (with and without detection), detect, detections, artifacts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../cli-run.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Run a coinradar command in this process (as main.ts does) and return what it printed. */
const cli = async (...args: string[]): Promise<string> => (await runCli(args)).out;

test('coinradar ingest / detect / detections / artifacts on a real capture', { timeout: 60000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-cli-'));
  try {
    const db = join(dir, 'db.duckdb');
    const cap = 'test/fixtures/pcap/nesfit/xmr-eu1.nanopool.org.pcapng';
    assert.match(await cli('ingest', '--db', db, '--no-geo', '--no-detect', cap), /1 flows stored/);
    assert.equal((await cli('detections', '--db', db, '--format', 'jsonl')).trim(), '');
    assert.match(await cli('detect', '--db', db), /1 flows, 1 detections/);
    const lines = (await cli('detections', '--db', db, '--format', 'jsonl'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    // 185.71.66.20 is in the 2018 catalogue for other ports only (6666, 16666), so no infrastructure hit.
    assert.deepEqual(
      lines.map((l) => `${l.label}/${l.confidence}/${l.coin}`),
      ['stratum/payload/XMR'],
    );
    const p = lines[0];
    for (const k of [
      'id',
      'first',
      'src',
      'sport',
      'dst',
      'dport',
      'proto',
      'packets',
      'bytes',
      'source',
      'evidence',
      'artifacts',
    ])
      assert.ok(k in p, k);
    assert.equal(p.dport, 14444);
    assert.equal(p.evidence.dialect, 'cryptonote');
    assert.deepEqual(p.artifacts, [
      {
        kind: 'wallet',
        value:
          '47mr7jYTroxQMwdKoPQuJoc9Vs9S9qCUAL6Ek4qyNFWJdqgBZRn4RYY2QjQfqEMJZVWPscupSgaqmUn1dpdUTC4fQsu3yjN',
      },
      { kind: 'agent', value: 'xmr/1.0' },
    ]);
    const csv = (await cli('artifacts', '--db', db, '--kind', 'wallet', '--format', 'csv'))
      .trim()
      .split('\n');
    assert.equal(csv[0], 'kind,value,labels,coins,flows,first,last,hosts');
    assert.match(
      csv[1],
      /^wallet,47mr7jYTrox[^,]+,stratum,XMR,1,2017-01-16T16:11:59\.\d+Z,2017-01-16T16:14:36\.\d+Z,147\.229\.13\.222$/,
    );
    // Ingest with detection (the default) gives the same detections; re-ingest does not double them.
    await cli('ingest', '--db', db, '--no-geo', cap);
    await cli('ingest', '--db', db, '--no-geo', cap);
    assert.equal((await cli('detections', '--db', db, '--format', 'jsonl')).trim().split('\n').length, 1);
    // The ZCash session's pool is in the 2018 catalogue: payload and infrastructure detections.
    await cli('ingest', '--db', db, '--no-geo', 'test/fixtures/pcap/nesfit/zec-eu1.nanopool.org.pcapng');
    const conf = async (min: string) =>
      (await cli('detections', '--db', db, '--format', 'jsonl', '--min-confidence', min))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).confidence as string);
    assert.deepEqual(await conf('port'), ['payload', 'payload', 'infrastructure']);
    assert.deepEqual(await conf('payload'), ['payload', 'payload']);
    const table = await cli('detections', '--db', db, '--min-confidence', 'infrastructure');
    assert.match(
      table,
      /stratum +ZEC +infrastructure +destination 185\.71\.66\.20:6666 is listed as Nanopool/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
