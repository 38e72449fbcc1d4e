// A ClickHouse URL carries a password. Commands that have only the DuckDB engine (export, report,
// estimate, screen, serve, indicators, …) refuse it with a message that names the URL redacted —
// DuckDB itself would name it as a file it cannot open, password and all — and the command hints
// that export and report write into their output name it redacted too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../cli-run.js';

const URL = 'clickhouse://analyst:s3cret-pw@127.0.0.1:9/flows';

test('DuckDB-only commands given a ClickHouse URL say so, with the password redacted', async () => {
  const commands = [
    ['export', 'stix', '--output', '/dev/null'],
    ['report', '--out', '/dev/null'],
    ['screen', '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ'],
    ['indicators', 'list'],
  ];
  for (const c of commands) {
    await assert.rejects(
      runCli([...c, '--db', URL]),
      (e: Error) => {
        assert.doesNotMatch(e.message, /s3cret-pw/, c.join(' '));
        assert.match(
          e.message,
          /clickhouse:\/\/analyst:\*\*\*@127\.0\.0\.1:9\/flows: this command works on a DuckDB store only/,
        );
        return true;
      },
      c.join(' '),
    );
  }
});
