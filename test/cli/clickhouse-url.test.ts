// A ClickHouse URL carries a password. Commands that have only the DuckDB engine (screen,
// indicators, …) refuse it with a message that names the URL redacted — DuckDB itself would name
// it as a file it cannot open, password and all. `report`, `serve --collect`, `export` and `estimate`
// run on ClickHouse: given a server that is not there, they try it, and say so with the URL redacted
// (the command hints that export writes into its output name it redacted too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../cli-run.js';

const URL = 'clickhouse://analyst:s3cret-pw@127.0.0.1:9/flows';

test('DuckDB-only commands given a ClickHouse URL say so, with the password redacted', async () => {
  const commands = [
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

test('report, serve, export and estimate take a ClickHouse URL: an unreachable server is named, redacted', async () => {
  for (const c of [
    ['report', '--out', '/dev/null'],
    ['export', 'stix', '--output', '/dev/null'],
    ['estimate', 'hashrate', '--host', '175.45.176.1'],
    // Plain serve starts without its store (the network routes answer 503 until it answers:
    // clickhouse-blackhole.test.ts); with --collect and no --spool it stops.
    ['serve', '--port', '0', '--state-db', '/nonexistent/state.duckdb', '--collect', 'udp://127.0.0.1:0'],
  ]) {
    await assert.rejects(
      runCli([...c, '--db', URL]),
      (e: Error) => {
        assert.doesNotMatch(e.message, /s3cret-pw/, c.join(' '));
        assert.doesNotMatch(e.message, /DuckDB store only/, c.join(' '));
        assert.match(e.message, /^clickhouse:\/\/analyst:\*\*\*@127\.0\.0\.1:9\/flows: /);
        return true;
      },
      c.join(' '),
    );
  }
});
