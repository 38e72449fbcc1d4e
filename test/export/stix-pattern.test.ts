// The STIX pattern parser is what antlr-ng generates from OASIS's grammar, unchanged: the grammar
// shipped is the reference data's, and generating again from it gives the committed files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseStixPattern, stixString } from '../../src/export/stix-pattern/parse.js';

const SHARED = resolve(process.env.COINRADAR_SHARED_DATA ?? '../shared/data');
const HERE = 'src/export/stix-pattern';

test('the grammar is the OASIS STIXPattern.g4 of the reference data', (t) => {
  const ref = join(SHARED, 'schemas/stix-2.1/pattern_grammar/STIXPattern.g4');
  if (!existsSync(ref)) return t.skip(`no reference data at ${ref}`);
  assert.equal(readFileSync(join(HERE, 'STIXPattern.g4'), 'utf8'), readFileSync(ref, 'utf8'));
});

test('the committed parser is what antlr-ng generates from the grammar', () => {
  const out = mkdtempSync(join(tmpdir(), 'stix-g4-'));
  try {
    execFileSync(
      process.execPath,
      [
        'node_modules/antlr-ng/dist/cli/runner.js',
        '-Dlanguage=TypeScript',
        '-l',
        'false',
        '-o',
        out,
        join(HERE, 'STIXPattern.g4'),
      ],
      { stdio: 'pipe', timeout: 120_000 },
    );
    const made = readdirSync(out)
      .filter((f) => f.endsWith('.ts'))
      .sort();
    assert.deepEqual(made, readdirSync(join(HERE, 'generated')).sort());
    for (const f of made)
      assert.equal(readFileSync(join(HERE, 'generated', f), 'utf8'), readFileSync(join(out, f), 'utf8'), f);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("patterns: the grammar's forms parse, broken ones do not; string literals escape quotes and backslashes", () => {
  for (const ok of [
    "[ipv4-addr:value = '198.51.100.1']",
    "[network-traffic:dst_ref.value = '2001:db8::1' AND network-traffic:dst_port = 3333]",
    "[domain-name:value = 'pool.example.org'] OR [ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[file:hashes.'SHA-256' = 'aa'] FOLLOWEDBY [x-thing:list[*].name LIKE 'a%'] WITHIN 300 SECONDS",
    "[ipv4-addr:value = '1.2.3.4'] START t'2017-05-17T00:00:00Z' STOP t'2017-06-01T00:00:00Z'",
  ])
    assert.ok(parseStixPattern(ok).ok, ok);
  for (const bad of [
    "[ipv4-addr:value = '1.2.3.4'",
    'ipv4-addr:value = 1',
    '[ipv4-addr:value = "1.2.3.4"]',
    "[ipv4-addr:value = '1.2.3.4'] WITHIN -1 SECONDS",
    "[ipv4-addr:value = t'2017-13-01T00:00:00Z']",
    '',
  ])
    assert.equal(parseStixPattern(bad).ok, false, bad);
  const tricky = "it's a \\ test";
  const r = parseStixPattern(`[domain-name:value = ${stixString(tricky)}]`);
  assert.ok(r.ok);
  assert.equal(r.comparisons[0].value, tricky);
});

test('a deeply nested pattern is refused by its depth or length, not by the stack', () => {
  for (const n of [65, 1000, 1900]) {
    const nested = parseStixPattern('('.repeat(n) + "[ipv4-addr:value = '1.2.3.4']" + ')'.repeat(n));
    assert.equal(nested.ok, false);
    assert.match(nested.ok ? '' : nested.error, /nested \d+ deep/);
    const inner = parseStixPattern('[' + '('.repeat(n) + "ipv4-addr:value = '1.2.3.4'" + ')'.repeat(n) + ']');
    assert.match(inner.ok ? '' : inner.error, /nested \d+ deep/);
  }
  assert.ok(
    parseStixPattern('('.repeat(60) + "[ipv4-addr:value = '(((((((']" + ')'.repeat(60)).ok,
    'brackets in strings do not count',
  );
  const deep = '('.repeat(3000) + "[ipv4-addr:value = '1.2.3.4']" + ')'.repeat(3000);
  const r = parseStixPattern(deep);
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.error, /more than 4096/);
});
