// onEarlyExit: cleanups run when a signal would end the process, not when the program handles the
// signal itself (serve's SIGHUP reload), and at exit; a released cleanup never runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('../../src/process/early-exit.ts', import.meta.url));

/** Runs `body` in a child node (tsx) with `onEarlyExit` and `mark(name)` in scope; resolves on "ready". */
function child(dir: string, body: string) {
  const file = join(dir, 'child.mts');
  writeFileSync(
    file,
    `import { onEarlyExit } from ${JSON.stringify(MODULE)};
import { writeFileSync } from 'node:fs';
const mark = (name: string) => writeFileSync(${JSON.stringify(dir)} + '/' + name, '');
${body}
console.log('ready');
setInterval(() => {}, 1000);
`,
  );
  const p = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((res) => p.stdout!.on('data', (d) => String(d).includes('ready') && res()));
  const ended = new Promise<NodeJS.Signals | number | null>((res) => p.once('exit', (c, s) => res(s ?? c)));
  return { p, ready, ended };
}

test('a signal nobody handles: the cleanups run, then the signal ends the process', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-early-'));
  try {
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      const c = child(
        dir,
        `onEarlyExit(() => mark('${sig}'));\nconst release = onEarlyExit(() => mark('released-${sig}'));\nrelease();`,
      );
      await c.ready;
      c.p.kill(sig);
      assert.equal(await c.ended, sig);
      assert.ok(existsSync(join(dir, sig)), `${sig}: the cleanup ran`);
      assert.ok(!existsSync(join(dir, `released-${sig}`)), `${sig}: a released cleanup did not run`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a signal the program handles (a SIGHUP reload) leaves the work alone; exit undoes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-early-'));
  try {
    const c = child(
      dir,
      `import { existsSync } from 'node:fs';\nonEarlyExit(() => mark('cleaned'));\nprocess.on('SIGHUP', () => { mark('reloaded'); setTimeout(() => { if (existsSync(${JSON.stringify(join(dir, 'cleaned'))})) mark('cleaned-at-signal'); process.exit(0); }, 100); });`,
    );
    await c.ready;
    c.p.kill('SIGHUP');
    assert.equal(await c.ended, 0, 'the program ended itself');
    assert.ok(existsSync(join(dir, 'reloaded')), 'its own handler ran');
    assert.ok(!existsSync(join(dir, 'cleaned-at-signal')), 'the cleanup did not run at the signal');
    assert.ok(existsSync(join(dir, 'cleaned')), 'the cleanup ran at exit, not at the signal');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
