import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGeoDatabase, type GeoDatabase } from '../../src/geo/database.js';
import { csvFields, locateGeoData } from '../../src/geo/ip-location-db.js';
import { GeoEnricher } from '../../src/geo/enricher.js';
import { loadWatchTable, parseCidr, parseWatchlist, WatchTable } from '../../src/geo/watchlist.js';
import { FlowBatch, ipText } from '../../src/flow/record.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'coinradar-geo-test-'));
let built: GeoDatabase;
let cached: GeoDatabase;

test.after(() => rmSync(cacheDir, { recursive: true, force: true }));

/** Seeded PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface CsvRow {
  start: bigint;
  end: bigint;
  vals: string[];
}

function readCsv(path: string): CsvRow[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const f = csvFields(l);
      return { start: BigInt(f[0]), end: BigInt(f[1]), vals: f.slice(2) };
    });
}

/**
 * The reference answer: walk every CSV row in file order and mark the sample addresses it
 * contains. The file is sorted by start, so a later (more specific) row overwrites an earlier
 * one it overlaps — the rule the lookup table implements.
 */
function scan(rows: CsvRow[], sorted: bigint[]): Map<bigint, string[]> {
  const out = new Map<bigint, string[]>();
  for (const r of rows) {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (sorted[m] < r.start) lo = m + 1;
      else hi = m;
    }
    for (let i = lo; i < sorted.length && sorted[i] <= r.end; i++) out.set(sorted[i], r.vals);
  }
  return out;
}

/** Addresses: uniform over the space, inside random rows, and on both sides of row boundaries. */
function sample(rows: CsvRow[], bits: number, n: number, seed: number): bigint[] {
  const r = rng(seed);
  const rand = (b: number) => {
    let v = 0n;
    for (let k = 0; k < b; k += 16) v = (v << 16n) | BigInt(Math.floor(r() * 65536));
    return v & ((1n << BigInt(b)) - 1n);
  };
  const max = (1n << BigInt(bits)) - 1n;
  const set = new Set<bigint>();
  for (let i = 0; i < n; i++) {
    const row = rows[Math.floor(r() * rows.length)];
    const span = row.end - row.start + 1n;
    switch (i % 4) {
      case 0:
        // IPv6: most of the space is unallocated, so draw half of these from 2000::/3.
        set.add(bits === 32 || i % 8 === 0 ? rand(bits) : (1n << 125n) | rand(125));
        break;
      case 1:
        set.add(row.start + (rand(bits) % span));
        break;
      case 2:
        set.add(row.start);
        if (row.start > 0n) set.add(row.start - 1n);
        break;
      case 3:
        set.add(row.end);
        if (row.end < max) set.add(row.end + 1n);
        break;
    }
  }
  return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function bytesOf(v: bigint, version: 4 | 6): Uint8Array {
  const b = new Uint8Array(16);
  const len = version === 4 ? 4 : 16;
  for (let k = len - 1; k >= 0; k--) {
    b[k] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}

function check(db: GeoDatabase, version: 4 | 6, seed: number): number {
  const files = locateGeoData();
  const countryRows = readCsv(version === 4 ? files.countryV4 : files.countryV6);
  const asnRows = readCsv(version === 4 ? files.asnV4 : files.asnV6);
  const addrs = [
    ...sample(countryRows, version === 4 ? 32 : 128, 1500, seed),
    ...sample(asnRows, version === 4 ? 32 : 128, 1500, seed + 1),
  ].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const wantCountry = scan(countryRows, addrs);
  const wantAsn = scan(asnRows, addrs);
  let known = 0;
  for (const a of addrs) {
    const b = bytesOf(a, version);
    // Skip IPv4-mapped IPv6 (looked up as IPv4 by design) — the v6 CSVs hold none of it anyway.
    if (version === 6 && a >> 32n === 0xffffn) continue;
    const got = db.lookupBytes(b, 0, version);
    const c = wantCountry.get(a);
    const s = wantAsn.get(a);
    const where = ipText(b, 0, version);
    assert.equal(got.country, c ? c[0] : '', `country of ${where}`);
    assert.equal(got.asn, s ? Number(s[0]) : 0, `ASN of ${where}`);
    assert.equal(got.org, s ? (s[1] ?? '') : '', `org of ${where}`);
    if (c || s) known++;
  }
  return known;
}

test('build from the package CSVs, then load the same tables from the binary cache', () => {
  built = loadGeoDatabase({ cacheDir });
  assert.equal(built.origin.how, 'built');
  assert.ok(built.origin.cacheFile, 'cache written');
  cached = loadGeoDatabase({ cacheDir });
  assert.equal(cached.origin.how, 'cache');
  assert.deepEqual(cached.codes, built.codes);
  assert.deepEqual(cached.v4.starts, built.v4.starts);
  assert.deepEqual(cached.v4.index, built.v4.index);
  assert.deepEqual(cached.v4.asn, built.v4.asn);
  assert.deepEqual(cached.v6.starts, built.v6.starts);
  assert.deepEqual(cached.v6.org, built.v6.org);
  assert.ok(cached.origin.ms < 1000, `cache load took ${cached.origin.ms} ms`);
  // A damaged cache is rebuilt, not trusted.
  writeFileSync(cached.origin.cacheFile!, 'coinradar-geo\ngarbage');
  const again = loadGeoDatabase({ cacheDir });
  assert.equal(again.origin.how, 'built');
});

test('IPv4 lookups agree with a scan of the package CSVs (3000 seeded addresses + boundaries)', () => {
  const known = check(cached, 4, 17);
  assert.ok(known > 2000, `only ${known} sample addresses were in the data`);
});

test('IPv6 lookups agree with a scan of the package CSVs (3000 seeded addresses + boundaries)', () => {
  const known = check(cached, 6, 29);
  assert.ok(known > 1500, `only ${known} sample addresses were in the data`);
});

test("North Korea's blocks: what GeoLite2 and the ASN data say, and the kp watchlist", () => {
  const watch = loadWatchTable();
  const at = (ip: string) => {
    const b = new Uint8Array(16);
    const v = parseCidr(ip).version;
    const r = parseCidr(ip);
    b.set(bytesOf(r.start, v));
    return { ...cached.lookupBytes(b, 0, v), watch: watch.lookup(ip) };
  };
  // 175.45.176.0/22: KP in GeoLite2, AS131279 Star Joint Venture.
  for (const ip of ['175.45.176.0', '175.45.177.10', '175.45.179.255']) {
    assert.deepEqual(at(ip), { country: 'KP', asn: 131279, org: 'Star Joint Venture Co. Ltd.', watch: 'kp' });
  }
  // 210.52.109.0/24: KP in GeoLite2, but announced inside China Unicom's AS9929 block.
  assert.deepEqual(at('210.52.109.77'), {
    country: 'KP',
    asn: 9929,
    org: 'CHINA UNICOM Industrial Internet Backbone',
    watch: 'kp',
  });
  assert.equal(at('210.52.108.255').country, 'CN');
  assert.equal(at('210.52.108.255').watch, '');
  // 77.94.35.0/24: GeoLite2 says Lithuania today; only the watchlist ties it to KP.
  assert.deepEqual(at('77.94.35.1'), { country: 'LT', asn: 51259, org: 'Arcus Novus UAB', watch: 'kp' });
  // Just outside the /22.
  assert.equal(at('175.45.175.255').watch, '');
  assert.equal(at('175.45.180.0').watch, '');
  assert.notEqual(at('175.45.180.0').country, 'KP');
});

test('unknown space answers empty: private, reserved, ends of both spaces', () => {
  for (const ip of [
    '0.0.0.0',
    '10.1.2.3',
    '192.168.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ]) {
    const r = parseCidr(ip);
    const got = cached.lookupBytes(bytesOf(r.start, r.version), 0, r.version);
    assert.deepEqual(got, { country: '', asn: 0, org: '' }, ip);
  }
  // The one overlapping pair in the ASN data: AS749 214.95.0.0–215.0.255.255 and AS721
  // 215.0.0.0–215.1.3.255. The later-starting range wins; the earlier keeps what precedes it.
  const asnOf = (ip: string) => cached.lookupBytes(bytesOf(parseCidr(ip).start, 4), 0, 4).asn;
  assert.equal(asnOf('214.255.255.255'), 749);
  assert.equal(asnOf('215.0.0.0'), 721);
  assert.equal(asnOf('215.0.255.255'), 721);
  assert.equal(asnOf('215.1.3.255'), 721);
  assert.equal(asnOf('215.1.4.0'), 27066);
  // IPv4-mapped IPv6 is looked up as IPv4.
  const mapped = parseCidr('::ffff:8.8.8.8');
  const v4 = parseCidr('8.8.8.8');
  assert.deepEqual(
    cached.lookupBytes(bytesOf(mapped.start, 6), 0, 6),
    cached.lookupBytes(bytesOf(v4.start, 4), 0, 4),
  );
  assert.equal(cached.lookupBytes(bytesOf(v4.start, 4), 0, 4).asn, 15169);
});

test('watchlists: first list in load order wins, bad lines name file and line', () => {
  const t = new WatchTable([
    ...parseWatchlist('# comment\nname,cidr\nwide,10.0.0.0/8\n\nwide,2001:db8::/32\n', 'a.csv'),
    ...parseWatchlist(
      'narrow,10.1.0.0/16\nnarrow,10.255.255.255\nnarrow,2001:db8:1::/48\nother,192.0.2.0/24\n',
      'b.csv',
    ),
  ]);
  assert.deepEqual(t.names, ['', 'wide', 'narrow', 'other']);
  assert.equal(t.lookup('10.1.2.3'), 'wide');
  assert.equal(t.lookup('10.255.255.255'), 'wide');
  assert.equal(t.lookup('11.0.0.0'), '');
  assert.equal(t.lookup('9.255.255.255'), '');
  assert.equal(t.lookup('192.0.2.255'), 'other');
  assert.equal(t.lookup('192.0.3.0'), '');
  assert.equal(t.lookup('2001:db8:1::5'), 'wide');
  assert.equal(t.lookup('2001:db9::'), '');
  assert.equal(t.lookup('::ffff:10.0.0.1'), 'wide');
  const narrowFirst = new WatchTable(parseWatchlist('narrow,10.1.0.0/16\nwide,10.0.0.0/8\n', 'c.csv'));
  assert.equal(narrowFirst.lookup('10.1.0.0'), 'narrow');
  assert.equal(narrowFirst.lookup('10.0.255.255'), 'wide');
  assert.equal(narrowFirst.lookup('10.2.0.0'), 'wide');
  assert.throws(
    () => parseWatchlist('ok,1.2.3.0/24\nbroken line\n', 'x.csv'),
    /x\.csv:line 2: expected "name,cidr"/,
  );
  assert.throws(() => parseWatchlist('ok,1.2.3.0/33\n', 'y.csv'), /y\.csv:line 1: bad prefix length/);
  assert.throws(() => parseWatchlist('ok,1.2.3/24\n', 'z.csv'), /z\.csv:line 1: not an IPv4 address/);
});

test('GeoEnricher fills both ends of a batch (v4, v6, mapped) and the AS organisations', () => {
  const b = new FlowBatch(8, 't');
  const base = {
    firstMs: 0,
    lastMs: 0,
    srcPort: 1,
    dstPort: 8333,
    proto: 6,
    packets: 1,
    bytes: 60,
    revPackets: 0,
    revBytes: 0,
    tcpFlags: 0,
    samplingRate: 1,
    exporter: '',
    observationDomain: 0,
    source: 't',
    position: 0,
    payloadFwd: null,
    payloadRev: null,
  };
  b.pushRecord({ ...base, ipVersion: 4, src: '175.45.178.1', dst: '8.8.8.8' });
  b.pushRecord({ ...base, ipVersion: 6, src: '2001:4860:4860::8888', dst: '::ffff:77.94.35.9' });
  b.pushRecord({ ...base, ipVersion: 4, src: '10.0.0.1', dst: '210.52.109.1' });
  const e = new GeoEnricher(cached, loadWatchTable()).enrich(b);
  assert.deepEqual(e.srcCountry, ['KP', 'US', '']);
  assert.deepEqual(e.dstCountry, ['US', 'LT', 'KP']);
  assert.deepEqual([...e.srcAsn], [131279, 15169, 0]);
  assert.deepEqual([...e.dstAsn], [15169, 51259, 9929]);
  assert.deepEqual(e.srcWatch, ['kp', '', '']);
  assert.deepEqual(e.dstWatch, ['', 'kp', 'kp']);
  assert.deepEqual(
    [...e.asOrgs].sort((x, y) => x[0] - y[0]),
    [
      [9929, 'CHINA UNICOM Industrial Internet Backbone'],
      [15169, 'Google LLC'],
      [51259, 'Arcus Novus UAB'],
      [131279, 'Star Joint Venture Co. Ltd.'],
    ],
  );
  // Every batch names its organisations again; the form for one writer names each once, with
  // the same columns.
  const plain = new GeoEnricher(cached, loadWatchTable());
  assert.equal(plain.enrich(b).asOrgs.size, 4);
  assert.equal(plain.enrich(b).asOrgs.size, 4);
  const once = plain.forOneWriter();
  const first = once.enrich(b);
  assert.deepEqual(
    [...first.asOrgs].sort((x, y) => x[0] - y[0]),
    [...e.asOrgs].sort((x, y) => x[0] - y[0]),
  );
  const again = once.enrich(b);
  assert.equal(again.asOrgs.size, 0);
  // The store lost what it was given (a rolled-back commit interval): every name once more.
  once.forgetOrgs();
  assert.equal(once.enrich(b).asOrgs.size, 4);
  assert.equal(once.enrich(b).asOrgs.size, 0);
  assert.deepEqual({ ...again, asOrgs: null }, { ...e, asOrgs: null });
  assert.equal(plain.enrich(b).asOrgs.size, 4, 'the enricher it came from is unchanged');
  // Without geo data only the watchlists apply.
  const w = new GeoEnricher(undefined, loadWatchTable()).enrich(b);
  assert.deepEqual(w.srcCountry, ['', '', '']);
  assert.deepEqual(w.srcWatch, ['kp', '', '']);
  assert.equal(w.asOrgs.size, 0);
});
