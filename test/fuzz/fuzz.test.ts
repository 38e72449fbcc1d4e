/**
 * The short fuzz budget of the test suite: every target of fuzz/ for FUZZ_SECONDS (default 4)
 * seconds in one child process (a hang is killed there by the watchdog, not here), and every saved
 * reproducer of a fixed bug (fuzz/regressions/) replayed. A broken promise fails the test and
 * leaves its reproducer under fuzz/findings/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fuzz, replay, type FuzzReport } from '../../fuzz/engine.js';
import { check, type FuzzTarget } from '../../fuzz/target.js';
import { targetByName, targets } from '../../fuzz/targets/index.js';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 4);

test('the harness finds a planted bug, shrinks it and saves a reproducer that replays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-self-'));
  try {
    // A "parser" that breaks on any input holding the two bytes 0xfd 0xff (a varint-like prefix):
    // the blk-file seeds do not contain them, so only mutation reaches the bug.
    const planted: FuzzTarget = {
      name: 'blk-file',
      description: 'planted bug',
      invariants: ['never sees fd ff'],
      tokens: ['\xfd\xff'],
      async run(input) {
        check(input.indexOf(Buffer.from([0xfd, 0xff])) < 0, 'saw fd ff');
      },
    };
    const r = await fuzz(planted, { seconds: 20, seed: 42, findingsDir: dir });
    assert.ok(r.finding, `no finding in ${r.executions} executions`);
    assert.match(r.finding.message, /InvariantBreach: saw fd ff/);
    const saved = readFileSync(r.finding.path);
    assert.ok(saved.indexOf(Buffer.from([0xfd, 0xff])) >= 0);
    assert.ok(existsSync(r.finding.path.replace(/\.bin$/, '.txt')));
    const e = await replay(planted, saved);
    assert.match(String(e), /saw fd ff/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hang: the watchdog saves the input and kills the process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fuzz-hang-'));
  try {
    // A child that enters an execution and never leaves it (a synchronous endless loop).
    const script = `
      import { Watchdog } from './fuzz/watchdog.ts';
      const w = new Watchdog('planted', ${JSON.stringify(dir)}, 300);
      w.enter(Buffer.from('endless'));
      const t0 = Date.now();
      while (Date.now() - t0 < 20000) {}
      process.exit(0);`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.signal, 'SIGKILL', `not killed: status ${r.status}, ${r.stderr}`);
    assert.ok(Date.now() - t0 < 15_000, 'killed only after the loop would have ended');
    const saved = readdirSync(dir).filter((f) => f.startsWith('planted-hang-'));
    assert.equal(saved.length, 1, r.stderr);
    assert.equal(readFileSync(join(dir, saved[0]), 'utf8'), 'endless');
    assert.match(r.stderr, /ran over 300 ms; input saved/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(`every fuzz target for ${SECONDS} s: no promise broken`, { timeout: 170_000 }, () => {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'fuzz/cli.ts', '--all', '--seconds', String(SECONDS), '--json'],
    { encoding: 'utf8', timeout: 160_000, env: { ...process.env, TZ: 'UTC' } },
  );
  const reports = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as FuzzReport);
  for (const rep of reports)
    console.log(
      `${rep.target}: ${rep.executions} executions, seed ${rep.firstSeed}, ${JSON.stringify(rep.outcomes)}` +
        (rep.finding ? ` BROKEN: ${rep.finding.message} (${rep.finding.path})` : ''),
    );
  const broken = reports
    .filter((x) => x.finding)
    .map((x) => `${x.target}: ${x.finding!.message} → ${x.finding!.path}`);
  assert.deepEqual(broken, [], 'promises broken');
  assert.equal(r.signal, null, `fuzz child killed (${r.signal}): ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    reports.map((x) => x.target),
    targets.map((t) => t.name),
    `every target ran (stderr: ${r.stderr})`,
  );
  for (const rep of reports) {
    assert.ok(rep.executions >= 20, `${rep.target}: only ${rep.executions} executions`);
    assert.ok((rep.outcomes.ok ?? 0) > 0, `${rep.target}: no input was read without error`);
  }
});

const REGRESSIONS = 'fuzz/regressions';
const saved = existsSync(REGRESSIONS) ? readdirSync(REGRESSIONS).filter((f) => f.endsWith('.bin')) : [];

for (const f of saved) {
  const name = f.slice(0, f.lastIndexOf('-'));
  test(`regression ${f}: fixed (${readFileSync(join(REGRESSIONS, f.replace(/\.bin$/, '.txt')), 'utf8').split('\n')[0]})`, async () => {
    const target = targetByName(name);
    assert.ok(target, `no target ${name}`);
    const e = await replay(target, readFileSync(join(REGRESSIONS, f)));
    assert.equal(e, null, String(e instanceof Error ? e.stack : e));
  });
}
