// Reading a store while `coinradar collect` writes it (issue 15, point 2): a real collector (the
// built CLI) under a replayed stream; every read command run on the same database in the meantime
// answers, and sees every flow the collector stored more than 5 s before it asked. Commands that
// change the store are refused with a message saying why. Loopback only; every loop bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isReadStatement } from '../../src/store/duckdb/query-socket.js';
import { PacedSender } from '../netflow/live-sender.js';
import { exited, freeUdpPort, sleep } from '../netflow/peers.js';

const MAIN = 'dist/cli/main.js';
const built = existsSync(MAIN);

function cli(args: string[]): { code: number | null; out: string; err: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

test('only single statements that read pass to the writer: comments, strings and a second statement are seen through', () => {
  assert.ok(isReadStatement('SELECT 1'));
  assert.ok(isReadStatement('-- a comment; with a semicolon\nWITH x AS (SELECT 1) SELECT * FROM x;\n'));
  assert.ok(isReadStatement("SELECT ';DROP TABLE flows' AS s"));
  assert.ok(isReadStatement('/* DELETE */ FROM flow_rows LIMIT 1'));
  assert.ok(!isReadStatement('DELETE FROM flow_rows'));
  assert.ok(!isReadStatement('SELECT 1; DELETE FROM flow_rows'));
  assert.ok(!isReadStatement("SELECT 'x'';'; DROP TABLE flows"));
  assert.ok(!isReadStatement("COPY flow_rows TO '/tmp/x.csv'"));
  assert.ok(!isReadStatement('INSERT INTO flow_rows SELECT * FROM flow_rows'));
  assert.ok(!isReadStatement("ATTACH '/tmp/other.duckdb'"));
});

test(
  'summary, flows, series, surge, hosts, detections, artifacts, report, screen and serve work while collect writes the store, and see what it committed up to 5 s before',
  {
    skip: built ? false : `${MAIN} missing: run npm run build first (this test runs the built CLI)`,
    timeout: 180_000,
  },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-rww-'));
    const db = join(dir, 'live.duckdb');
    const port = await freeUdpPort();
    const proc = spawn(
      process.execPath,
      [
        MAIN,
        'collect',
        '--listen',
        `udp://127.0.0.1:${port}`,
        '--db',
        db,
        '--no-geo',
        '--metrics',
        '127.0.0.1:0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    t.after(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    for (let k = 0; k < 400 && !err.includes('metrics on') && proc.exitCode === null; k++) await sleep(25);
    assert.match(err, /collecting on udp:\/\/127\.0\.0\.1:\d+/, err);
    const metrics = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1]);
    // The metrics endpoint closes idle keep-alive connections; a reused one may be gone: ask again.
    const healthz = () =>
      fetch(`http://127.0.0.1:${metrics}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() =>
        fetch(`http://127.0.0.1:${metrics}/healthz`, { signal: AbortSignal.timeout(5000) }),
      );
    const stored = async () => ((await (await healthz()).json()) as { flowsStored: number }).flowsStored;

    // A steady stream for the whole test: the commands below run while it is being written.
    const sender = new PacedSender(port, 0);
    const sending = sender.run(400_000, 4000, 120_000);
    try {
      await sleep(3000);
      const commands: [string, string[]][] = [
        ['summary', ['summary', '--db', db, '--format', 'json']],
        ['flows', ['flows', '--db', db, '--limit', '5', '--format', 'jsonl']],
        ['series', ['series', '--db', db, '--bucket', 'hour', '--format', 'json']],
        ['surge', ['surge', '--db', db, '--bucket', 'hour', '--format', 'json']],
        ['hosts', ['hosts', '--db', db]],
        ['detections', ['detections', '--db', db, '--limit', '3']],
        ['artifacts', ['artifacts', '--db', db]],
        ['report', ['report', '--db', db, '--out', join(dir, 'r.html')]],
        ['screen', ['screen', '--db', db, '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ']],
      ];
      for (const [name, args] of commands) {
        // What the collector had stored (committed within the second) 5 s before the command ends
        // is the least it must see.
        const before = await stored();
        await sleep(2000); // two commit intervals: all of `before` is committed
        const r = cli(args);
        if (name === 'screen') {
          // No list is loaded in this store: the same answer as on a store nobody writes.
          assert.match(r.err, /no sanctions list in .*: load one/, `${name}: ${r.err}`);
          continue;
        }
        assert.equal(r.code, 0, `${name} failed while collect writes: ${r.err}`);
        if (name === 'summary') {
          const s = JSON.parse(r.out) as { total: { flows: number } };
          assert.ok(
            s.total.flows >= before - 0,
            `summary saw ${s.total.flows} flows; ${before} were stored before it asked`,
          );
          assert.ok(s.total.flows > 0);
        }
        if (name === 'flows') assert.equal(r.out.trim().split('\n').length, 5);
        if (name === 'series') {
          const rows = JSON.parse(r.out) as { flows: number }[];
          assert.ok(
            rows.reduce((a, x) => a + x.flows, 0) >= before,
            'the series counts every committed flow',
          );
        }
      }
      // serve: the screening API on the same store answers while collect writes it.
      const srv = spawn(process.execPath, [MAIN, 'serve', '--db', db, '--port', '0', '--allow-anonymous'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let srvOut = '';
      srv.stdout!.on('data', (d) => (srvOut += d));
      srv.stderr!.on('data', (d) => (srvOut += d));
      try {
        for (let k = 0; k < 400 && !/http:\/\/127\.0\.0\.1:\d+/.test(srvOut) && srv.exitCode === null; k++)
          await sleep(25);
        const base = /http:\/\/127\.0\.0\.1:\d+/.exec(srvOut)?.[0];
        assert.ok(base, `serve did not start: ${srvOut}`);
        const h = await fetch(`${base}/healthz`).catch((e: Error) => {
          throw new Error(`${e.message}: ${String(e.cause)}; serve said: ${srvOut}`);
        });
        assert.equal(h.status, 200);
        const r = await fetch(`${base}/v1/screen/1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ`);
        assert.equal(r.status, 200);
        assert.equal(((await r.json()) as { matched: boolean }).matched, false);
      } finally {
        srv.kill('SIGINT');
        await exited(srv);
      }
      // A command that would change the store is refused, saying why.
      const det = cli(['detect', '--db', db]);
      assert.notEqual(det.code, 0);
      assert.match(det.err, /being written by another process \(collect or ingest\)/);
    } finally {
      sender.stop();
      await sending;
      sender.close();
    }
    proc.kill('SIGINT');
    assert.equal(await exited(proc), 0, err);
    // Once the collector has gone, the store is the reader's own again.
    const after = cli(['summary', '--db', db, '--by', 'proto']);
    assert.equal(after.code, 0, after.err);
  },
);
