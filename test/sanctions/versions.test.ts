import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { diffLists } from '../../src/sanctions/diff.js';
import { loadListFiles } from '../../src/sanctions/load.js';
import { readZip } from '../../src/sanctions/zip.js';
import { runCli } from '../cli-run.js';

const SHARED = resolve(process.env.COINRADAR_SHARED_DATA ?? '../shared/data');
const VERSIONS = join(SHARED, 'sanctions/sdn-advanced');
const OLD = join(VERSIONS, 'sdn_advanced-2024-09-26.xml.bz2');
const NEW = join(VERSIONS, 'sdn_advanced-2025-10-14.xml.bz2');
const FIX = 'test/fixtures/sanctions';
/**
 * The real sdn_comments rows (a later list than the January 2022 sdn.csv) of the entities that
 * sdn.csv has: the others name ent_nums it lacks, and a list that does is refused as short.
 */
function commentsFor(sdnCsv: string, out: string): void {
  const ids = new Set(
    readFileSync(sdnCsv, 'latin1')
      .split('\n')
      .map((l) => l.slice(0, l.indexOf(','))),
  );
  const rows = readFileSync(join(FIX, 'sdn_comments-subset.csv'), 'latin1')
    .split('\n')
    .filter((l) => l && ids.has(l.slice(0, l.indexOf(','))));
  assert.ok(rows.length >= 5, `${rows.length} comment rows for sdn.csv's entities`);
  writeFileSync(out, rows.join('\n') + '\n', 'latin1');
}

const has = (prog: string) => spawnSync('sh', ['-c', `command -v ${prog}`]).status === 0;

/**
 * The independent count: Debian's bzip2 decompresses, and a regular-expression walk over the XML
 * (no XML parser, none of the loader's code) finds every Feature whose FeatureType is "Digital
 * Currency Address - CODE" and the DistinctParty (FixedRef = entity id) it sits in.
 */
function walk(bz2: string): { listings: number; entities: Map<string, Set<string>> } {
  const xml = execFileSync('bzip2', ['-dc', bz2], { maxBuffer: 512 << 20 }).toString('utf8');
  const types = new Map<string, string>();
  for (const m of xml.matchAll(
    /<FeatureType ID="(\d+)"[^>]*>Digital Currency Address - ([^<]+)<\/FeatureType>/g,
  ))
    types.set(m[1], m[2].trim());
  // "COIN address" → the entity ids listing it (a few addresses are listed under two entities).
  const entities = new Map<string, Set<string>>();
  let listings = 0;
  for (const p of xml.matchAll(/<DistinctParty FixedRef="(\d+)"[^>]*>([\s\S]*?)<\/DistinctParty>/g)) {
    for (const f of p[2].matchAll(/<Feature ID="\d+" FeatureTypeID="(\d+)">([\s\S]*?)<\/Feature>/g)) {
      const code = types.get(f[1]);
      if (!code) continue;
      const v = /<VersionDetail[^>]*>([^<]*)<\/VersionDetail>/.exec(f[2]);
      if (!v) continue;
      listings++;
      const k = `${code === 'XBT' ? 'BTC' : code} ${v[1].trim()}`;
      if (!entities.has(k)) entities.set(k, new Set());
      entities.get(k)!.add(p[1]);
    }
  }
  return { listings, entities };
}

test(
  'sanctions diff of the two real SDN Advanced XML versions (2024-09-26 → 2025-10-14, read from .bz2): every address added and removed, with entity and asset, as an independent walk of the XML finds them',
  { timeout: 600_000 },
  async (t) => {
    if (!existsSync(OLD) || !existsSync(NEW))
      return t.skip(`the real versions are not at ${VERSIONS} (COINRADAR_SHARED_DATA)`);
    if (!has('bzip2')) return t.skip('bzip2 (Debian package bzip2) is needed for the independent count');
    const a = await loadListFiles([OLD]);
    const b = await loadListFiles([NEW]);
    assert.equal(a.published, '2024-09-26');
    assert.equal(b.published, '2025-10-14');
    assert.deepEqual(a.files, [OLD]);
    assert.equal(a.skipped.length + b.skipped.length, 0);
    const d = diffLists(a, b);
    const wa = walk(OLD);
    const wb = walk(NEW);
    // Every listing is loaded (an address under two entities is two listings) ...
    assert.equal(a.addresses.length, wa.listings);
    assert.equal(b.addresses.length, wb.listings);
    // ... and the diff compares distinct addresses.
    const ra = wa.entities;
    const rb = wb.entities;
    const added = [...rb.keys()].filter((k) => !ra.has(k)).sort();
    const removed = [...ra.keys()].filter((k) => !rb.has(k)).sort();
    const rows = (c: string) =>
      d.addresses
        .filter((x) => x.change === c)
        .map((x) => `${x.coin} ${x.address}`)
        .sort();
    assert.ok(added.length > 0 && removed.length > 0, `${added.length} added, ${removed.length} removed`);
    assert.deepEqual(rows('added'), added);
    assert.deepEqual(rows('removed'), removed);
    assert.equal(d.counts.addressesAdded, added.length);
    assert.equal(d.counts.addressesRemoved, removed.length);
    // Each row names the entity the XML puts the address under, and that entity's name.
    for (const x of d.addresses) {
      const ref = (x.change === 'removed' ? ra : rb).get(`${x.coin} ${x.address}`);
      assert.ok(ref?.has(x.entityId ?? ''), `${x.change} ${x.coin} ${x.address}: entity ${x.entityId}`);
      assert.ok(x.entityName.length > 0, `${x.coin} ${x.address} has a name`);
    }
    // The 2025 delisting of Tornado Cash (entity 39796) is among the removals.
    assert.ok(d.addresses.some((x) => x.change === 'removed' && x.entityName === 'TORNADO CASH'));
  },
);

test(
  'lists read from zip, gzip and bzip2 files are the lists of the plain files (same checksum, addresses, entities); hostile archives refused',
  { timeout: 120_000 },
  async (t) => {
    if (!has('zip') || !has('bzip2') || !has('gzip'))
      return t.skip('zip, bzip2 and gzip (Debian) make the archives');
    const dir = mkdtempSync(join(tmpdir(), 'cr-lists-'));
    try {
      const names = ['sdn.csv', 'add.csv', 'alt.csv', 'sdn_comments.csv'];
      for (const n of names.slice(0, 3)) copyFileSync(join(FIX, n), join(dir, n));
      commentsFor(join(FIX, 'sdn.csv'), join(dir, 'sdn_comments.csv'));
      const plain = await loadListFiles(names.map((n) => join(dir, n)));
      execFileSync('zip', ['-q', '-j', join(dir, 'sdn.zip'), ...names.map((n) => join(dir, n))]);
      const zipped = await loadListFiles([join(dir, 'sdn.zip')]);
      assert.equal(zipped.checksum, plain.checksum);
      assert.deepEqual(zipped.addresses, plain.addresses);
      assert.deepEqual(zipped.entities, plain.entities);
      assert.deepEqual(
        zipped.files,
        names.map((n) => `${join(dir, 'sdn.zip')}:${n}`),
      );
      // The comments join: remarks cut in sdn.csv continue, so the joined list has more addresses.
      const noComments = await loadListFiles(names.slice(0, 3).map((n) => join(dir, n)));
      assert.ok(plain.addresses.length > noComments.addresses.length);
      // bzip2 and gzip: one compressed file among plain ones.
      execFileSync('bzip2', ['-k', join(dir, 'sdn.csv')]);
      execFileSync('sh', ['-c', `gzip -c '${join(dir, 'add.csv')}' > '${join(dir, 'add.csv.gz')}'`]);
      const mixed = await loadListFiles([
        join(dir, 'sdn.csv.bz2'),
        join(dir, 'add.csv.gz'),
        join(dir, 'alt.csv'),
        join(dir, 'sdn_comments.csv'),
      ]);
      assert.equal(mixed.checksum, plain.checksum);
      assert.deepEqual(mixed.files.slice(0, 2), [join(dir, 'sdn.csv.bz2'), join(dir, 'add.csv.gz')]);
      // Bounds: an archive or entry past the limit, an entry whose directory lies about its size or CRC.
      await assert.rejects(
        loadListFiles([join(dir, 'sdn.zip')], { maxBytes: 100_000 }),
        /more than the limit of 100000/,
      );
      const z = readFileSync(join(dir, 'sdn.zip'));
      const cd = z.indexOf(Buffer.from([0x50, 0x4b, 1, 2]));
      const lying = Buffer.from(z);
      lying.writeUInt32LE(z.readUInt32LE(cd + 24) - 1, cd + 24); // sdn.csv's uncompressed size, one less
      writeFileSync(join(dir, 'lying.zip'), lying);
      assert.throws(
        () => readZip(join(dir, 'lying.zip'), () => true, 1 << 30),
        /sdn\.csv: .*(inflated|larger|Cannot create)/,
      );
      const badCrc = Buffer.from(z);
      badCrc.writeUInt32LE((z.readUInt32LE(cd + 16) ^ 1) >>> 0, cd + 16);
      writeFileSync(join(dir, 'crc.zip'), badCrc);
      assert.throws(() => readZip(join(dir, 'crc.zip'), () => true, 1 << 30), /sdn\.csv: CRC-32 mismatch/);
      // A name that climbs out of the folder is extracted by its base name only.
      writeFileSync(join(dir, 'x.json'), '["1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"]');
      execFileSync('sh', ['-c', `cd '${dir}' && mkdir -p a/b && cp x.json a/b/ && zip -q ev.zip a/b/x.json`]);
      const ev = Buffer.from(
        readFileSync(join(dir, 'ev.zip')).toString('latin1').replaceAll('a/b/x.json', '..//x.json'),
        'latin1',
      );
      writeFileSync(join(dir, 'ev.zip'), ev);
      assert.deepEqual(
        readZip(join(dir, 'ev.zip'), () => true, 1 << 20).entries.map((e) => [e.name, e.base]),
        [['..//x.json', 'x.json']],
      );
      // A truncated bzip2 file is an error naming it, not a short list.
      const bz = readFileSync(join(dir, 'sdn.csv.bz2'));
      writeFileSync(join(dir, 'sdn.csv.bz2'), bz.subarray(0, bz.length >> 1));
      await assert.rejects(
        loadListFiles([join(dir, 'sdn.csv.bz2'), join(dir, 'add.csv'), join(dir, 'alt.csv')]),
        /sdn\.csv\.bz2.*bzip2/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'coinradar sanctions diff FILE FILE: two list files (a folder and a zip) without storing them',
  { timeout: 120_000 },
  async (t) => {
    if (!has('zip')) return t.skip('zip (Debian) makes the archive');
    const dir = mkdtempSync(join(tmpdir(), 'cr-lists-'));
    try {
      const names = ['sdn.csv', 'add.csv', 'alt.csv', 'sdn_comments.csv'];
      commentsFor(join(FIX, 'sdn.csv'), join(dir, 'sdn_comments.csv'));
      const from = (n: string) => join(n === 'sdn_comments.csv' ? dir : FIX, n);
      execFileSync('zip', ['-q', '-j', join(dir, 'with-comments.zip'), ...names.map(from)]);
      const folder = join(dir, 'jan2022');
      execFileSync('mkdir', [folder]);
      for (const n of names.slice(0, 3)) copyFileSync(join(FIX, n), join(folder, n));
      const r = await runCli([
        'sanctions',
        'diff',
        folder,
        join(dir, 'with-comments.zip'),
        '--format',
        'json',
      ]);
      const j = JSON.parse(r.out) as {
        addresses: { change: string; coin: string; address: string; entityId: string }[];
        counts: { addressesAdded: number };
      };
      const a = await loadListFiles([folder]);
      const b = await loadListFiles([join(dir, 'with-comments.zip')]);
      const keys = new Set(a.addresses.map((x) => `${x.coin} ${x.key}`));
      const want = b.addresses.filter((x) => !keys.has(`${x.coin} ${x.key}`)).length;
      // The cut fragments sdn.csv alone gives ("1Gq") are gone once the remarks are whole.
      const keysB = new Set(b.addresses.map((x) => `${x.coin} ${x.key}`));
      const gone = a.addresses.filter((x) => !keysB.has(`${x.coin} ${x.key}`)).length;
      assert.ok(want > 0);
      assert.equal(j.counts.addressesAdded, want);
      assert.ok(j.addresses.every((x) => x.entityId && x.coin && x.address));
      // The same two versions stored and diffed by id give the same rows.
      const db = join(dir, 's.duckdb');
      await runCli(['sanctions', 'load', '--db', db, '--published', '2022-01-14', folder]);
      await runCli([
        'sanctions',
        'load',
        '--db',
        db,
        '--published',
        '2022-01-15',
        join(dir, 'with-comments.zip'),
      ]);
      const byId = JSON.parse(
        (await runCli(['sanctions', 'diff', '--db', db, '1', '2', '--format', 'json'])).out,
      ) as typeof j;
      assert.deepEqual(byId.addresses, j.addresses);
      const table = await runCli(['sanctions', 'diff', folder, join(dir, 'with-comments.zip')]);
      assert.match(table.out, new RegExp(`addresses: \\+${want} -${gone} ~0`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
