// Read commands never create a store (issue 12, point 8): on a path that does not exist they fail
// with an error naming it and leave nothing behind; and a bad --limit is named, not passed to SQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli-run.js';

const READS: string[][] = [
  ['flows'],
  ['summary'],
  ['summary', '--by', 'dport'],
  ['series'],
  ['surge'],
  ['hosts'],
  ['detections'],
  ['artifacts'],
  ['report', '--out', 'x.html'],
  ['estimate', 'hashrate', '--host', '175.45.176.1'],
];

test('read commands on a store that does not exist: an error naming the path, and no file created', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-missing-'));
  try {
    const db = join(dir, 'missing.duckdb');
    for (const args of READS) {
      await assert.rejects(
        runCli([...args, '--db', db]),
        (e: Error) => e.message.includes(`${db}: no such store`),
        `${args.join(' ')} on a missing store`,
      );
      assert.equal(existsSync(db), false, `${args.join(' ')} created the store`);
      assert.deepEqual(readdirSync(dir), [], `${args.join(' ')} left files behind`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flows --limit takes a whole number and names the option otherwise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-missing-'));
  try {
    const db = join(dir, 'db.duckdb');
    await runCli(['ingest', '--db', db, 'test/fixtures/netflow/softflowd-v5-gnutella.pcap']);
    await assert.rejects(runCli(['flows', '--db', db, '--limit', 'abc']), /--limit must be a whole number/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
