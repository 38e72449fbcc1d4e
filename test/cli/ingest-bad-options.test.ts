// A bad --watchlist or --list makes ingest fail and exit, not hang with its store left open
// (the store's reader socket kept the process alive). The built CLI, as users run it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
