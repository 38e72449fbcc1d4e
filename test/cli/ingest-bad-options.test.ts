// A bad --watchlist or --list makes ingest fail and exit, not hang with its store left open
// (the store's reader socket kept the process alive). The built CLI, as users run it. And
// --active-timeout: its default, its effect and a bad value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli-run.js';

const MAIN = 'dist/cli/main.js';

for (const opt of ['--watchlist', '--list'])
  test(
    `ingest ${opt} missing.csv exits 2 naming the file (does not hang)`,
    { skip: existsSync(MAIN) ? false : `${MAIN} missing: run npm run build first` },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'cr-badopt-'));
      try {
        const r = spawnSync(
          process.execPath,
          [
            MAIN,
            'ingest',
            '--db',
            join(dir, 'db.duckdb'),
            'test/fixtures/netflow/softflowd-v5-gnutella.pcap',
            opt,
            join(dir, 'missing.csv'),
          ],
          { encoding: 'utf8', timeout: 30000 },
        );
        assert.equal(r.signal, null, `killed by the 30 s timeout: it hung (${r.stderr})`);
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /missing\.csv/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

test('ingest --active-timeout: 300 s by default (nfpcapd), 1800 gives 30-minute pieces, a bad value exits 2 naming the option', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-active-'));
  try {
    const flows = async (extra: string[]) => {
      const db = join(dir, `db${extra.join('')}.duckdb`);
      const r = await runCli([
        'ingest',
        '--db',
        db,
        '--no-geo',
        '--no-detect',
        ...extra,
        'test/fixtures/pcap/ndpi/bitcoin.pcap',
      ]);
      assert.equal(r.exitCode, 0, r.err);
      return r.out;
    };
    // 20 connections on 8333, six of them longer than 5 minutes (ingest.test.ts counts them).
    assert.match(await flows([]), /pcap, 26 flows stored/);
    assert.match(await flows(['--active-timeout', '1800']), /pcap, 20 flows stored/);
    for (const bad of ['0', 'soon', '-5']) {
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'ingest',
          '--db',
          join(dir, 'bad.duckdb'),
          '--active-timeout',
          bad,
          'test/fixtures/pcap/ndpi/bitcoin.pcap',
        ],
        { encoding: 'utf8', timeout: 60000 },
      );
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`--active-timeout: '${bad}' is not a number of seconds`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
