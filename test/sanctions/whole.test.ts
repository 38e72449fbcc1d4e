// Issue 10, case 5: a sanctions list that loads short is a false negative. Every list is loaded
// whole or refused (every bad line named); --allow-partial loads it with the gaps stored; a new
// version that drops too much of the current one needs --allow-shrink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvRecords } from '../../src/sanctions/csv.js';
import { loadListFiles } from '../../src/sanctions/load.js';
import { parseSdnCsv, SDN_UNKNOWN_ENTITY_LIMIT } from '../../src/sanctions/sdn-csv.js';
import { parseSdnAdvancedXml } from '../../src/sanctions/sdn-advanced.js';
import { generateSdnAdvancedXml } from '../../src/sanctions/sdn-advanced-generate.js';
import { ListRefusedError } from '../../src/sanctions/skipped.js';
import { InputError } from '../../src/flow/diagnostics.js';
import { runCli } from '../cli-run.js';

const FIX = 'test/fixtures/sanctions';

// Ten lines: a header and nine rows, the quote on line 5 never closed (the file).
const WATCH_ROWS = [
  ['BTC', '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ', 'tian'],
  ['BTC', '1EfMVkxQQuZfBdocpJu6RUsCJvenQWbQyE', 'li'],
  ['BTC', '15YK647qtoZQDzNrvY6HJL6QwXduLHfT28', 'tian2'],
  ['BTC', '1PfwHNxUnkpfkK9MKjMqzR3Xq3KCtq9u17', 'tian3'],
  ['BTC', '14kqryJUxM3a7aEi117KX9hoLUw592WsMR', 'tian4'],
  ['BTC', '1F2Gdug9ib9NQMhKMGGJczzMk5SuENoqrp', 'tian5'],
  ['BTC', '3F2sZ4jbhvDKQdGbHYPC6ZxFXEau2m5Lqj', 'tian6'],
  ['BTC', '1AXUTu9y3H8w4wYx4BjyFWgRhZKDhmcMrn', 'tian7'],
  ['BTC', '17UVSMegvrzfobKC82dHXpZLtLcqzW9stF', 'li2'],
];
function watchCsv(badQuote: boolean): string {
  const lines = ['coin,address,label', ...WATCH_ROWS.map((r) => r.join(','))];
  if (badQuote) lines[4] = lines[4].replace(',1Pfw', ',"1Pfw');
  return lines.join('\n') + '\n';
}

/** The real January 2022 sdn.csv with an opening quote added on `line` and never closed. */
function sdnWithBadQuote(dir: string, line: number): string[] {
  const lines = readFileSync(`${FIX}/sdn.csv`, 'latin1').split('\n');
  const f = lines[line - 1].split(',');
  f[1] = `"${f[1]}`;
  lines[line - 1] = f.join(',');
  const p = join(dir, 'sdn.csv');
  writeFileSync(p, lines.join('\n'), 'latin1');
  return [p, `${FIX}/add.csv`, `${FIX}/alt.csv`];
}

// runCli captures process.stdout while a command runs; the test reporter writes the previous
// test's result there too, so let it flush first (else that result vanishes from the report).
const cli = async (args: string[]) => {
  await new Promise((r) => setTimeout(r, 10));
  return runCli(args);
};

test('csv: an unterminated quote is a fault at the line it opened, and reading resumes on the next line', () => {
  const text = watchCsv(true);
  const recs = [...csvRecords(text, { recordStart: /^[A-Z]{2,5},/ })];
  assert.equal(recs.length, 10);
  const bad = recs.filter((r) => r.fault);
  assert.equal(bad.length, 1);
  assert.equal(bad[0].line, 5);
  assert.match(
    bad[0].fault!,
    /quote opened at line 5 is not closed before line 6, which starts a new record/,
  );
  assert.deepEqual(
    recs.filter((r) => !r.fault).map((r) => r.line),
    [1, 2, 3, 4, 6, 7, 8, 9, 10],
  );
  // Without a record-start pattern a quoted field may span lines, but not to the end of the file.
  const eof = [...csvRecords('a,b\n"c,d\ne,f\n')];
  assert.equal(eof[1].line, 2);
  assert.match(eof[1].fault!, /quote opened at line 2 is never closed \(runs to the end of the file\)/);
  assert.deepEqual(eof[2], { line: 3, fields: ['e', 'f'] });
  // A legitimate multi-line quoted field still reads as one record.
  assert.deepEqual(
    [...csvRecords('a,"b\nc",d\ne\n')],
    [
      { line: 1, fields: ['a', 'b\nc', 'd'] },
      { line: 3, fields: ['e'] },
    ],
  );
});

test('screen --file: a file with an unterminated quote is refused, not screened without the addresses after it', async () => {
  const { readAddressFile } = await import('../../src/cli/screen.js');
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const p = join(dir, 'wallets.csv');
    writeFileSync(
      p,
      'host,address\n10.0.0.1,"1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ\n10.0.0.2,1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n',
    );
    assert.throws(() => readAddressFile(p), /wallets\.csv:line 2: quote opened at line 2 is never closed/);
    writeFileSync(
      p,
      'host,address\n10.0.0.1,"1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ"\n10.0.0.2,1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n',
    );
    assert.deepEqual(readAddressFile(p), [
      '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ',
      '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reproduce: address CSV with one unterminated quote on line 5 of 10 is refused, every bad line named (was: 3 of 10 loaded, exit 0)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const p = join(dir, 'watch.csv');
    writeFileSync(p, watchCsv(true));
    await assert.rejects(loadListFiles([p]), (e: unknown) => {
      assert.ok(e instanceof ListRefusedError);
      assert.deepEqual(
        e.skipped.map((r) => [r.source, r.line, r.kind]),
        [[p, 5, 'unterminated-quote']],
      );
      assert.match(e.message, new RegExp(`${p}:line 5: unterminated-quote: quote opened at line 5`));
      assert.match(e.message, /nothing was stored/);
      return true;
    });
    // The rest was still read: with --allow-partial all 8 other rows load.
    const l = await loadListFiles([p], { allowPartial: true });
    assert.equal(l.addresses.length, 8);
    assert.equal(l.skipped.length, 1);
    assert.equal(l.diagnostics.get('records'), 10);
    assert.deepEqual(
      l.addresses.map((a) => a.address),
      WATCH_ROWS.filter((_, i) => i !== 3).map((r) => r[1]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reproduce: the real SDN CSV with an unterminated quote is refused (was: loaded short, exit 0); the rest is still read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const files = sdnWithBadQuote(dir, 5);
    await assert.rejects(loadListFiles(files), (e: unknown) => {
      assert.ok(e instanceof ListRefusedError);
      assert.deepEqual(
        e.skipped.map((r) => [r.source, r.line, r.kind]),
        [[files[0], 5, 'unterminated-quote']],
      );
      return true;
    });
    const l = await loadListFiles(files, { allowPartial: true });
    // Only the one row is lost: 9,043 entities whole, 9,042 here; every sdn.csv record still counted.
    assert.equal(l.entities.length, 9042);
    assert.equal(l.diagnostics.get('records.sdn'), 9044);
    assert.equal(l.addresses.length, 127);
    // The whole file loads without complaint (its known quirks are warnings, not skipped rows).
    const whole = await loadListFiles([`${FIX}/sdn.csv`, `${FIX}/add.csv`, `${FIX}/alt.csv`]);
    assert.equal(whole.entities.length, 9043);
    assert.deepEqual(whole.skipped, []);
    assert.equal(whole.diagnostics.get('problem.duplicate-entity'), 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SDN CSV invariants: field counts of sdn/add/alt rows, numeric ids, and a short sdn.csv seen from add/alt', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const sdn = join(dir, 'sdn.csv');
    const add = join(dir, 'add.csv');
    const alt = join(dir, 'alt.csv');
    writeFileSync(
      sdn,
      '10,ONE,-0- ,SDGT,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n' +
        'x11,TWO,-0- ,SDGT,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n' +
        '12,THREE,-0- ,SDGT,-0- ,-0- \n',
    );
    writeFileSync(add, '10,1,-0- ,Havana,Cuba,-0- \n10,2,Havana,Cuba\n');
    writeFileSync(alt, '10,5,aka,UNO,-0- \n10,q,aka,UNO,-0- \n');
    const l = parseSdnCsv([sdn, add, alt]);
    assert.deepEqual(
      l.skipped.map((r) => `${r.source}:${r.line} ${r.message}`),
      [
        `${sdn}:2 ent_num: expected a number, found 'x11'`,
        `${sdn}:3 expected 12 fields, found 6`,
        `${add}:2 expected 6 fields, found 4`,
        `${alt}:2 alt_num: expected a number, found 'q'`,
      ],
    );
    // sdn.csv cut at a line end leaves no broken row: add.csv rows naming ent_nums it lacks show it.
    const realSdn = readFileSync(`${FIX}/sdn.csv`, 'latin1').split('\n');
    writeFileSync(sdn, realSdn.slice(0, 8000).join('\n') + '\n', 'latin1');
    await assert.rejects(loadListFiles([sdn, `${FIX}/add.csv`]), (e: unknown) => {
      assert.ok(e instanceof ListRefusedError);
      assert.ok(e.skipped.length > SDN_UNKNOWN_ENTITY_LIMIT);
      assert.ok(e.skipped.every((r) => r.kind === 'unknown-entity' && r.source === `${FIX}/add.csv`));
      assert.match(e.skipped[0].message, /sdn\.csv looks short/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SDN Advanced XML: a truncated file and a file without digital-currency feature types are refused with the location', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const p = join(dir, 'sdn_advanced.xml');
    await generateSdnAdvancedXml(p, { targetBytes: 512 * 1024, seed: 5, addressEvery: 20 });
    const whole = readFileSync(p);
    const full = await loadListFiles([p]);
    assert.ok(full.addresses.length > 10);
    assert.deepEqual(full.skipped, []);
    // Cut in the middle (a download that stopped): not well-formed XML at its end.
    const cut = join(dir, 'cut.xml');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    await assert.rejects(loadListFiles([cut]), (e: unknown) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.problem.source, cut);
      assert.equal(e.problem.unit, 'line');
      assert.ok(e.problem.offset > 1);
      assert.match(e.message, new RegExp(`^${cut}:line \\d+: bad-xml: `));
      return true;
    });
    // Well formed but without the feature types that mark addresses: it would load with none.
    const bare = join(dir, 'bare.xml');
    writeFileSync(bare, '<?xml version="1.0"?>\n<Sanctions>\n<ReferenceValueSets/>\n</Sanctions>\n');
    assert.equal((await parseSdnAdvancedXml(bare)).addresses.length, 0);
    await assert.rejects(loadListFiles([bare]), (e: unknown) => {
      assert.ok(e instanceof ListRefusedError);
      assert.deepEqual(
        e.skipped.map((r) => [r.line, r.kind]),
        [[1, 'no-feature-types']],
      );
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file whose last line has no line end is named (it may be cut); a byte-order mark does not hide the header', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const p = join(dir, 'watch.csv');
    writeFileSync(
      p,
      '\uFEFFcoin,address,label\nBTC,1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ,tian\nBTC,1EfMVkxQQuZfBdocp,li',
    );
    const l = await loadListFiles([p]);
    assert.deepEqual(
      l.addresses.map((a) => a.address),
      ['1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ', '1EfMVkxQQuZfBdocp'],
    );
    const cut = l.diagnostics.problems.find((x) => x.kind === 'no-final-line-end')!;
    assert.deepEqual([cut.source, cut.offset], [p, 3]);
    // The real OFAC files end with a line end (add.csv with ^Z after it): no such warning.
    const real = await loadListFiles([`${FIX}/sdn.csv`, `${FIX}/add.csv`, `${FIX}/alt.csv`]);
    assert.equal(real.diagnostics.get('problem.no-final-line-end'), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('per-asset JSON: a truncated file and a non-string item are refused with file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const src = readFileSync(`${FIX}/ofac-address-lists-2024-09/sanctioned_addresses_XBT.json`, 'utf8');
    const cut = join(dir, 'sanctioned_addresses_XBT.json');
    writeFileSync(cut, src.slice(0, Math.floor(src.length / 2)));
    const eth = join(dir, 'sanctioned_addresses_ETH.json');
    writeFileSync(eth, '[\n  "0x7f367cc41522ce07553e823bf3be79a889debe1b",\n  17\n]\n');
    await assert.rejects(loadListFiles([dir]), (e: unknown) => {
      assert.ok(e instanceof ListRefusedError);
      const lines = src.slice(0, Math.floor(src.length / 2)).split('\n').length;
      assert.deepEqual(
        e.skipped.map((r) => [r.source, r.kind]),
        [
          [eth, 'bad-row'],
          [cut, 'bad-json'],
        ],
      );
      assert.equal(e.skipped[0].line, 3);
      assert.match(e.skipped[0].message, /item 1: expected an address string, found 17/);
      assert.ok(Math.abs(e.skipped[1].line - lines) <= 1, `line ${e.skipped[1].line} of ${lines}`);
      assert.match(e.skipped[1].message, /none of its addresses were read/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: a refused list exits non-zero and leaves the stored version screening exactly as before; --allow-partial stores the gaps with the version', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const db = join(dir, 'db.duckdb');
    const good = join(dir, 'watch.csv');
    writeFileSync(good, watchCsv(false));
    assert.match((await cli(['sanctions', 'load', '--db', db, good])).out, /loaded version 1 of watch/);
    const screen = async () =>
      JSON.parse(
        (await cli(['screen', '--db', db, '--format', 'json', ...WATCH_ROWS.map((r) => r[1])])).out,
      ) as {
        matched: boolean;
        matches: { versionId: number }[];
      }[];
    const before = await screen();
    assert.ok(before.every((r) => r.matched && r.matches[0].versionId === 1));

    // A new version of the same list with the bad quote: refused, nothing stored.
    writeFileSync(good, watchCsv(true));
    await assert.rejects(cli(['sanctions', 'load', '--db', db, good]), (e: unknown) => {
      assert.ok(e instanceof ListRefusedError);
      assert.match(e.message, /watch\.csv:line 5: unterminated-quote/);
      return true;
    });
    // The process exit: the real binary, non-zero, the line named on stderr.
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'sanctions', 'load', '--db', db, good],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 2);
    assert.match(r.stderr, /refused: 1 row\(s\) of .*watch\.csv could not be read/);
    assert.match(r.stderr, /watch\.csv:line 5: unterminated-quote: quote opened at line 5/);
    const versions = JSON.parse(
      (await cli(['sanctions', 'versions', '--db', db, '--format', 'json'])).out,
    ) as {
      id: number;
    }[];
    assert.deepEqual(
      versions.map((v) => v.id),
      [1],
    );
    assert.deepEqual(await screen(), before);

    // --allow-partial: loaded, every skipped row printed and stored with the version. The row it
    // leaves out is one of nine, so the shrink guard wants its own consent too.
    await assert.rejects(cli(['sanctions', 'load', '--db', db, '--allow-partial', good]), /drops 1 of its 9/);
    const p = await cli(['sanctions', 'load', '--db', db, '--allow-partial', '--allow-shrink', good]);
    assert.match(p.err, /watch\.csv:line 5: unterminated-quote: quote opened at line 5 .*\(skipped\)/);
    assert.match(p.out, /loaded version 2 of watch/);
    assert.match(p.out, /PARTIAL: 1 row\(s\) could not be read/);
    const v = JSON.parse((await cli(['sanctions', 'versions', '--db', db, '--format', 'json'])).out) as {
      id: number;
      partial: string;
      sha256: string;
      skipped: { source: string; line: number; kind: string; message: string }[];
    }[];
    assert.deepEqual(
      v.map((x) => [x.id, x.partial, x.skipped.map((s) => [s.source, s.line, s.kind])]),
      [
        [1, '', []],
        [2, 'yes', [[good, 5, 'unterminated-quote']]],
      ],
    );
    // Screening says it screens against a partial version, and the index's version record carries it.
    const scr = await cli(['screen', '--db', db, WATCH_ROWS[0][1]]);
    assert.match(scr.err, /against watch v2 \(unknown, PARTIAL: 1 row\(s\) of the list not loaded\)/);
    const { loadScreeningIndex } = await import('../../src/sanctions/index-loader.js');
    assert.deepEqual((await loadScreeningIndex(db)).versions, [
      { versionId: 2, list: 'watch', published: null, checksum: v[1].sha256, partial: true, skippedRows: 1 },
    ]);
    // The API names it too: /v1/lists and /healthz carry the partial flag and the skipped count.
    {
      const { openScreeningServer } = await import('../../src/cli/serve.js');
      const srv = await openScreeningServer({ db, allowAnonymous: true, chain: false });
      try {
        for (const url of ['/v1/lists', '/healthz']) {
          const r = await srv.app.inject({ method: 'GET', url });
          assert.equal(r.statusCode, 200);
          assert.deepEqual(
            (r.json() as { lists: unknown[] }).lists,
            [
              {
                versionId: 2,
                list: 'watch',
                published: null,
                checksum: v[1].sha256,
                partial: true,
                skippedRows: 1,
              },
            ],
            url,
          );
        }
      } finally {
        await srv.close();
      }
    }
    const table = (await cli(['sanctions', 'versions', '--db', db])).out;
    assert.match(table, /partial +skipped/);
    assert.match(table, /\n +2 +watch +yes .* yes +1 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: a new version that drops more than 10 % of the current one is refused without --allow-shrink', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-whole-'));
  try {
    const db = join(dir, 'db.duckdb');
    const p = join(dir, 'watch.csv');
    writeFileSync(p, watchCsv(false));
    await cli(['sanctions', 'load', '--db', db, '--published', '2024-01', p]);
    // Drop one of nine (11.1 %): refused, version 1 still current.
    const lines = watchCsv(false).split('\n');
    writeFileSync(p, lines.filter((_, i) => i !== 3).join('\n'));
    await assert.rejects(
      cli(['sanctions', 'load', '--db', db, '--published', '2024-02', p]),
      /refused: this version drops 1 of its 9 addresses \(11\.1 %\) and 1 of its 9 entities \(11\.1 %\) of version 1/,
    );
    const ids = async () =>
      (
        JSON.parse((await cli(['sanctions', 'versions', '--db', db, '--format', 'json'])).out) as {
          id: number;
        }[]
      ).map((v) => v.id);
    assert.deepEqual(await ids(), [1]);
    // An older publication does not replace the current version, so it is not compared.
    assert.match(
      (await cli(['sanctions', 'load', '--db', db, p, '--published', '2020-01'])).out,
      /loaded version 2/,
    );
    // --allow-shrink loads it.
    writeFileSync(p, lines.filter((_, i) => i !== 3 && i !== 4).join('\n'));
    assert.match(
      (await cli(['sanctions', 'load', '--db', db, '--published', '2024-02', '--allow-shrink', p])).out,
      /loaded version 3/,
    );
    // The real lists (January 2022 CSV, then September 2024 JSON, which drops 3 of 127 addresses,
    // 2.4 %) load one after the other through the guard: test/sanctions/cli.test.ts.
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
