// One set of CLI conventions (issue 12 point 8): exit codes 0 done, 1 found, 2 usage or input
// error; `screen` gates scripts; shell completion from the command tree; and the package as npm
// packs it runs as `coinradar` from its bin link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';

const MAIN = resolve('dist/cli/main.js');
const built = existsSync(MAIN);
const skip = built ? false : 'dist/ not built: run `npm run build` (npm test does)';
const run = (args: string[], cwd?: string) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd, timeout: 60_000 });

const LISTED = '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ'; // TIAN Yinyin, OFAC 2024-09 BTC list
const UNLISTED = '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2';

test(
  'exit codes: usage errors are 2 (unknown option, unknown command, missing argument, bad value), help and version 0',
  { skip },
  () => {
    for (const args of [
      ['flows', '--bogus'],
      ['nosuch'],
      ['chain', 'cluster'],
      ['flows', '--limit', 'abc'],
      ['completion', 'fish'],
    ]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.length > 0, `${args.join(' ')} says why`);
    }
    // Option values are checked before a store is opened (none exists here: the message must be the
    // option's, not the store's) or a socket bound.
    for (const [option, ...args] of [
      ['--min-probability', 'surge', '--db', 'missing.duckdb', '--min-probability', 'abc'],
      ['--penalty', 'surge', '--db', 'missing.duckdb', '--penalty', 'x'],
      ['--limit', 'detections', '--db', 'missing.duckdb', '--limit', 'x'],
      ['--limit', 'artifacts', '--db', 'missing.duckdb', '--limit', 'x'],
      ['--difficulty', 'estimate', 'hashrate', '--host', '10.0.0.1', '--difficulty', 'abc'],
      [
        '--duration',
        'collect',
        '--db',
        'missing.duckdb',
        '--duration',
        'abc',
        '--listen',
        'udp://127.0.0.1:0',
      ],
    ]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`${option} must be`), `${args.join(' ')}: ${r.stderr}`);
    }
    for (const args of [['--help'], ['--version'], ['flows', '--help']])
      assert.equal(run(args).status, 0, args.join(' '));
  },
);

test(
  'screen exits 1 when an address is listed, 0 when none is or with --exit-zero; jsonl gives one result per line',
  { skip },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-conv-'));
    try {
      const db = join(dir, 's.duckdb');
      const load = run([
        'sanctions',
        'load',
        '--db',
        db,
        '--published',
        '2024-09',
        resolve('test/fixtures/sanctions/ofac-address-lists-2024-09'),
      ]);
      assert.equal(load.status, 0, load.stderr);
      const hit = run(['screen', '--db', db, LISTED, UNLISTED, '--format', 'jsonl']);
      assert.equal(hit.status, 1, hit.stderr);
      const lines = hit.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { address: string; matched: boolean });
      assert.deepEqual(
        lines.map((l) => [l.address, l.matched]),
        [
          [LISTED, true],
          [UNLISTED, false],
        ],
      );
      assert.equal(run(['screen', '--db', db, UNLISTED]).status, 0);
      assert.equal(run(['screen', '--db', db, LISTED, '--exit-zero']).status, 0);
      // An input error is 2, not "found".
      assert.equal(run(['screen', '--db', join(dir, 'missing.duckdb'), LISTED]).status, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'completion bash: commands, subcommands and options from the command tree; files after an option that takes a value',
  { skip },
  () => {
    const r = run(['completion', 'bash']);
    assert.equal(r.status, 0, r.stderr);
    const dir = mkdtempSync(join(tmpdir(), 'cr-comp-'));
    try {
      writeFileSync(join(dir, 'comp.sh'), r.stdout);
      writeFileSync(join(dir, 'store.duckdb'), '');
      const probe = `source comp.sh
t() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); COMPREPLY=(); _coinradar; echo "\${COMPREPLY[*]}"; }
t coinradar ch
t coinradar chain ''
t coinradar chain ingest --net
t coinradar flows --db st
t coinradar summary --b
t coinradar screen --exit`;
      const b = spawnSync('bash', ['-c', probe], { cwd: dir, encoding: 'utf8' });
      assert.equal(b.status, 0, b.stderr);
      assert.equal(b.stderr, '');
      const out = b.stdout.split('\n');
      assert.equal(out[0], 'chain');
      for (const sub of ['ingest', 'cluster', 'trace', 'exposure'])
        assert.ok(out[1].split(' ').includes(sub), out[1]);
      assert.equal(out[2], '--network');
      assert.equal(out[3], 'store.duckdb');
      assert.equal(out[4], '--by');
      assert.equal(out[5], '--exit-zero');
      const zsh = spawnSync('zsh', ['--version']);
      if (zsh.error)
        console.log('zsh not installed: the zsh script (bashcompinit + the bash script) is not loaded here');
      else {
        const z = run(['completion', 'zsh']);
        writeFileSync(join(dir, 'comp.zsh'), z.stdout);
        const zr = spawnSync('zsh', ['-c', 'source comp.zsh && whence -w _coinradar'], {
          cwd: dir,
          encoding: 'utf8',
        });
        assert.equal(zr.status, 0, zr.stderr);
        assert.match(zr.stdout, /function/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'the packed package: `npm pack`, then its bin linked as npm links it runs coinradar (version, a real screen)',
  { skip, timeout: 120_000 },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-pack-'));
    try {
      const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', dir], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(pack.status, 0, pack.stderr);
      const tgz = join(dir, pack.stdout.trim().split('\n').pop()!);
      const pkg = join(dir, 'node_modules', 'coinradar');
      mkdirSync(pkg, { recursive: true });
      const x = spawnSync('tar', ['-xzf', tgz, '-C', pkg, '--strip-components=1']);
      assert.equal(x.status, 0, String(x.stderr));
      // Dependencies are not fetched (tests stay off the network): the clone's own tree stands in
      // for what `npm install` would put beside the package.
      symlinkSync(resolve('node_modules'), join(pkg, 'node_modules'));
      const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
        bin: Record<string, string>;
      };
      const target = join(pkg, manifest.bin.coinradar);
      assert.match(readFileSync(target, 'utf8').split('\n')[0], /^#!\/usr\/bin\/env node/);
      // npm's bin-links makes the target executable when it links it (the tarball keeps the build's mode).
      chmodSync(target, 0o755);
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(target, join(bin, 'coinradar'));
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
      const sh = (cmd: string) =>
        spawnSync('sh', ['-c', cmd], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
      const v = sh('coinradar --version');
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stdout.trim(), '0.1.0');
      const list = resolve('test/fixtures/sanctions/ofac-address-lists-2024-09');
      const s = sh(
        `coinradar sanctions load --db s.duckdb --published 2024-09 '${list}' >/dev/null && coinradar screen --db s.duckdb ${LISTED}`,
      );
      assert.equal(s.status, 1, s.stderr);
      assert.match(s.stdout, /\bexact\b/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('every command that prints records takes --format table|csv|json|jsonl', async () => {
  const { fullProgram } = await import('../../src/cli/completion.js');
  // One estimate with its assumptions, not records: their table and JSON are the whole answer.
  const ONE_ANSWER = new Set(['estimate revenue', 'estimate power']);
  const seen: string[] = [];
  const walk = (c: Command, path: string): void => {
    const f = c.options.find((o) => o.long === '--format');
    if (f && f.description.startsWith('table') && !ONE_ANSWER.has(path)) {
      seen.push(path);
      const formats =
        f.description.split(/[\s(]/)[0] === 'table' ? f.description.match(/\b(table|csv|jsonl?)\b/g) : [];
      assert.deepEqual(
        [...new Set(formats)].sort(),
        ['csv', 'json', 'jsonl', 'table'],
        `${path}: ${f.description}`,
      );
    }
    for (const s of c.commands) walk(s, path ? `${path} ${s.name()}` : s.name());
  };
  walk(await fullProgram(), '');
  for (const p of [
    'flows',
    'summary',
    'series',
    'surge',
    'hosts',
    'detections',
    'artifacts',
    'screen',
    'chain trace',
  ])
    assert.ok(seen.includes(p), `${p} was checked`);
});

test(
  'from the checkout, `npx coinradar` runs the built CLI (the README says so)',
  { skip, timeout: 120_000 },
  () => {
    const r = spawnSync('npx', ['--offline', 'coinradar', '--version'], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0.1.0');
  },
);
