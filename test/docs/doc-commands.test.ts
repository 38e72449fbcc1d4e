// Every command README.md and docs/*-usage.md show in a ```console block is run, in page order in
// one temp dir per page, and its output compared with the page (volatile figures masked): a page
// that no longer tells the truth fails here. Markup and masks: test/docs/doc-runner.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { applyUpdates, loadPage, parsePage, runPage, type DocUpdate, type RunOptions } from './doc-runner.js';

const repo = process.cwd();
const pages = [
  'README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('-usage.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const skipLong = process.env.COINRADAR_DOCTEST_SKIP_LONG === '1';

function options(log: (s: string) => void): RunOptions {
  return {
    repo,
    skipLong,
    timeoutMs: 600_000,
    onSkip: (where, command, reason) => log(`skipped ${where}: $ ${command.split('\n')[0]} — ${reason}`),
    onCommand: (where, command, ms) => {
      if (ms > 5000) log(`${where}: ${(ms / 1000).toFixed(1)} s: $ ${command.split('\n')[0]}`);
    },
  };
}

test('the doc runner fails on drift and passes on masked or elided output', (t) => {
  const page = parsePage(
    'self.md',
    [
      '<!-- doctest: mask id [0-9a-f]{8} -->',
      '```console',
      '$ printf "a\\nb\\nc\\n"',
      'a',
      '...',
      'c',
      '',
      '$ echo "took 1.5 s, id $(head -c4 /dev/urandom | od -An -tx1 | tr -d " \\n")"',
      'took 9.9 s, id 0123abcd',
      '',
      '$ echo "wide line here"',
      'wide … here',
      '```',
      '<!-- doctest: setup echo 42 > answer -->',
      '```console',
      '$ cat answer',
      '41',
      '```',
      '<!-- doctest: needs no-such-program-cr -->',
      '```console',
      '$ no-such-program-cr',
      'never compared',
      '```',
    ].join('\n'),
  );
  const skipped: string[] = [];
  const failures = runPage(page, {
    ...options((s) => t.diagnostic(s)),
    onSkip: (where, command, reason) => skipped.push(`${where} ${command}: ${reason}`),
  });
  assert.deepEqual(skipped, [
    'self.md:21 no-such-program-cr: no-such-program-cr not installed (scripts/install-test-deps.sh installs it)',
  ]);
  assert.equal(failures.length, 1, failures.join('\n'));
  assert.match(failures[0]!, /^self\.md:17: output of `cat answer`/);
  assert.match(failures[0]!, /page: {3}"41"\n {2}actual: "42"/);
  // A `$ coinradar` line outside a console block is named, so nothing escapes the test.
  assert.deepEqual(parsePage('p.md', '```\n$ coinradar summary\n```\n').problems, [
    'p.md:2: a command outside a ```console block is not tested',
  ]);
});

for (const file of pages) {
  test(`${file}: every command's output is what the page shows`, { timeout: 900_000 }, (t) => {
    if (!existsSync('dist/cli/main.js')) {
      t.skip('dist/ not built: run `npm run build` (npm test does)');
      return;
    }
    const page = loadPage(repo, file);
    const t0 = Date.now();
    const updates: DocUpdate[] = [];
    const failures = runPage(
      page,
      options((s) => t.diagnostic(s)),
      updates,
    );
    t.diagnostic(`${file}: ${page.blocks.length} blocks, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // A maintainer's aid after a deliberate change: the page takes the real output (review the diff).
    if (process.env.COINRADAR_DOCTEST_UPDATE === '1' && updates.length) applyUpdates(repo, file, updates);
    assert.equal(failures.length, 0, failures.join('\n\n'));
  });
}
