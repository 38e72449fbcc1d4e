import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reader } from 'maxmind';
import { loadGeoDatabase, type GeoDatabase } from '../../src/geo/database.js';
import {
  GeoImportRefused,
  importGeoFiles,
  loadImportedGeo,
  readGeoManifest,
  resetImportedGeo,
} from '../../src/geo/imported.js';
import { locateGeoData } from '../../src/geo/ip-location-db.js';
import { runCli } from '../cli-run.js';
import { loadEnricher } from '../../src/cli/enricher.js';
import { FlowBatch } from '../../src/flow/record.js';
import { writeMmdb, type MmdbNetwork } from './mmdb-writer.js';

let seed = 20261206;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const rndBig = (bits: number) => {
  let v = 0n;
  for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(Math.floor(rnd() * 65536));
  return v & ((1n << BigInt(bits)) - 1n);
};
const COUNTRIES = ['KP', 'CN', 'RU', 'US', 'DE', 'LT', 'FR', 'IR'];

/** Disjoint-or-nested random prefixes, general first (the writer lets a later, more specific one win). */
function randomNetworks(
  bits: number,
  count: number,
  data: (i: number) => MmdbNetwork['data'],
): MmdbNetwork[] {
  const out: MmdbNetwork[] = [];
  for (let i = 0; i < count; i++) {
    const prefix = 8 + Math.floor(rnd() * (bits === 32 ? 20 : 40));
    const start = (rndBig(bits) >> BigInt(bits - prefix)) << BigInt(bits - prefix);
    out.push({ start, prefix, data: data(i) });
  }
  return out.sort((a, b) => a.prefix - b.prefix);
}

function v4Text(x: bigint): string {
  const n = Number(x);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
function v6Text(x: bigint): string {
  const w: string[] = [];
  for (let i = 7; i >= 0; i--) w.push(Number((x >> BigInt(16 * i)) & 0xffffn).toString(16));
  return w.join(':');
}

/** Our answer for an address given as text. */
function ours(db: GeoDatabase, ip: string) {
  const buf = new Uint8Array(16);
  const bytes = ip.includes(':') ? ipv6Bytes(ip) : ip.split('.').map(Number);
  buf.set(bytes);
  return db.lookupBytes(buf, 0, ip.includes(':') ? 6 : 4);
}
function ipv6Bytes(ip: string): number[] {
  const out: number[] = [];
  for (const w of ip.split(':')) {
    const v = parseInt(w, 16);
    out.push(v >> 8, v & 255);
  }
  return out;
}

/** What maxmind (the reference reader) says, in our terms. */
function reference(r: Reader<Record<string, unknown>>, ip: string) {
  const rec = r.get(ip) as Record<string, Record<string, unknown> | number | string> | null;
  const iso = (m: unknown) =>
    m && typeof m === 'object' ? (m as { iso_code?: string }).iso_code : undefined;
  return {
    country: (rec && (iso(rec.country) ?? iso(rec.registered_country))) || '',
    asn: (rec?.autonomous_system_number as number | undefined) ?? 0,
    org: (rec?.autonomous_system_organization as string | undefined) ?? '',
  };
}

/** Addresses inside, at both ends of and just outside each network, plus uniform ones. */
function probes(nets: MmdbNetwork[], bits: number, n: number): bigint[] {
  const max = (1n << BigInt(bits)) - 1n;
  const out: bigint[] = [];
  for (const x of nets) {
    const size = 1n << BigInt(bits - x.prefix);
    for (const a of [
      x.start,
      x.start + size - 1n,
      x.start - 1n,
      x.start + size,
      x.start + rndBig(bits - x.prefix),
    ])
      if (a >= 0n && a <= max) out.push(a);
  }
  for (let i = 0; i < n; i++) out.push(rndBig(bits));
  return out;
}

test('geo import of a GeoLite2-Country-like .mmdb (IPv4 tree, 24-bit records): every probe equals maxmind’s own lookup; metadata kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geo-import-'));
  try {
    const nets = randomNetworks(32, 400, (i): MmdbNetwork['data'] =>
      i % 7 === 0
        ? { registered_country: { iso_code: COUNTRIES[i % 8], names: { en: 'x' } } } // GeoLite2 leaves `country` out at times
        : {
            country: { geoname_id: 1000 + i, iso_code: COUNTRIES[i % 8], names: { en: 'x' } },
            continent: { code: 'AS' },
          },
    );
    const file = join(dir, 'GeoLite2-Country.mmdb');
    const buildEpoch = Date.UTC(2026, 10, 28, 12) / 1000;
    const bytes = writeMmdb(nets, {
      ipVersion: 4,
      recordSize: 24,
      databaseType: 'GeoLite2-Country',
      buildEpoch,
    });
    writeFileSync(file, bytes);
    const db = join(dir, 'store.duckdb');
    const m = importGeoFiles([file], db, { noDefault: true });
    assert.equal(m.sources.length, 1);
    const s = m.sources[0];
    assert.equal(s.file, 'GeoLite2-Country.mmdb');
    assert.equal(s.format, 'mmdb');
    assert.equal(s.databaseType, 'GeoLite2-Country');
    assert.equal(s.buildDate, '2026-11-28T12:00:00.000Z');
    assert.equal(s.version, '2.0');
    assert.deepEqual(s.gives, ['country v4']);
    assert.equal(s.skipped, 0);
    assert.deepEqual(m.empty, ['country v6', 'asn v4', 'asn v6']);
    const g = loadImportedGeo(db)!;
    assert.equal(g.origin.how, 'imported');
    const ref = new Reader<Record<string, unknown>>(bytes);
    let known = 0;
    const all = probes(nets, 32, 2000);
    for (const a of all) {
      const ip = v4Text(a);
      const want = reference(ref, ip);
      assert.deepEqual(ours(g, ip), want, ip);
      if (want.country) known++;
    }
    assert.ok(known > all.length / 4, `${known} of ${all.length} probes in a network`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('geo import of ASN .mmdb files with IPv6 trees (28- and 32-bit records, IPv4 under ::/96 and its aliases): v4 and v6 probes equal maxmind’s lookup', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geo-import-'));
  try {
    for (const recordSize of [28, 32] as const) {
      const asnData = (i: number) => ({
        autonomous_system_number: 64496 + (i % 50) * 1000 + (i % 3) * 100000,
        autonomous_system_organization: `AS org ${i % 50}, "quoted" ünïcode`,
      });
      const v6nets = randomNetworks(128, 300, asnData).filter(
        (n) => n.start >> 96n !== 0n && n.start >> 112n !== 0x2002n,
      );
      // IPv4 networks live at ::/96 in an IPv6 tree.
      const v4nets = randomNetworks(32, 300, (i) => asnData(i + 7)).map((n) => ({
        ...n,
        prefix: n.prefix + 96,
      }));
      const nets = [...v4nets, ...v6nets].sort((a, b) => a.prefix - b.prefix);
      // Node numbers above 2^24 need the 28/32-bit records' top bits: not reached by small trees,
      // so the 28-bit layout is checked by the reader agreeing with maxmind, which decodes it alike.
      const bytes = writeMmdb(nets, {
        ipVersion: 6,
        recordSize,
        databaseType: 'GeoLite2-ASN',
        buildEpoch: Date.UTC(2026, 11, 1) / 1000,
        ipv4Aliases: true,
      });
      const file = join(dir, `asn-${recordSize}.mmdb`);
      writeFileSync(file, bytes);
      const db = join(dir, `s${recordSize}.duckdb`);
      const m = importGeoFiles([file], db, { noDefault: true });
      assert.deepEqual(m.sources[0].gives, ['asn v4+v6']);
      assert.equal(m.sources[0].skipped, 0);
      const g = loadImportedGeo(db)!;
      const ref = new Reader<Record<string, unknown>>(bytes);
      for (const a of probes(v6nets, 128, 1000)) {
        const ip = v6Text(a);
        if (a >> 32n === 0n || a >> 32n === 0xffffn || a >> 112n === 0x2002n) continue; // IPv4 space and its aliases
        assert.deepEqual(ours(g, ip), reference(ref, ip), `${ip} (${recordSize}-bit records)`);
      }
      const v4only = v4nets.map((n) => ({ ...n, prefix: n.prefix - 96 }));
      for (const a of probes(v4only, 32, 1000)) {
        const ip = v4Text(a);
        const want = reference(ref, ip);
        assert.deepEqual(ours(g, ip), want, `${ip} (${recordSize}-bit records)`);
        // ::ffff:a.b.c.d is the same address (our lookup maps it; maxmind follows the alias).
        assert.deepEqual(reference(ref, `::ffff:${ip}`), want);
        assert.deepEqual(ours(g, v6Text(0xffff00000000n | a)), want);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('geo import of the ip-location-db CSVs (address text, IPv4 and IPv6, country and ASN) gives exactly the packaged tables', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geo-import-'));
  try {
    // The packages ship each table twice: as address text (what a CERT downloads) and as integers
    // (what the packaged default is built from). Imported from the text files, the tables must be
    // the packaged ones, array for array.
    const pkg = locateGeoData();
    const text = [pkg.countryV4, pkg.countryV6, pkg.asnV4, pkg.asnV6].map((p) =>
      p.replace(/-num\.csv$/, '.csv'),
    );
    const db = join(dir, 'store.duckdb');
    const m = importGeoFiles(text, db, { noDefault: true, dataVersion: pkg.asnVersion });
    assert.deepEqual(
      m.sources.map((s) => [s.file, s.gives.join(), s.skipped, s.version]),
      [
        ['geolite2-country-ipv4.csv', 'country v4', 0, pkg.asnVersion],
        ['geolite2-country-ipv6.csv', 'country v6', 0, pkg.asnVersion],
        ['asn-ipv4.csv', 'asn v4', 0, pkg.asnVersion],
        ['asn-ipv6.csv', 'asn v6', 0, pkg.asnVersion],
      ],
    );
    assert.deepEqual(m.defaults, []);
    const imported = loadImportedGeo(db)!;
    const packaged = loadGeoDatabase({ cacheDir: join(dir, 'cache') });
    for (const f of ['v4', 'v6'] as const)
      for (const col of ['starts', 'index', 'asn'] as const)
        assert.ok(
          Buffer.from(
            imported[f][col].buffer,
            imported[f][col].byteOffset,
            imported[f][col].byteLength,
          ).equals(
            Buffer.from(packaged[f][col].buffer, packaged[f][col].byteOffset, packaged[f][col].byteLength),
          ),
          `${f}.${col}`,
        );
    // Codes and organisations are interned in reading order (country first), so compare by value.
    for (const f of ['v4', 'v6'] as const) {
      const n = imported[f].country.length;
      assert.equal(n, packaged[f].country.length);
      for (let i = 0; i < n; i++) {
        if (imported.codes[imported[f].country[i]] !== packaged.codes[packaged[f].country[i]])
          assert.fail(`${f} segment ${i} country`);
        if (imported.orgName(imported[f].org[i]) !== packaged.orgName(packaged[f].org[i]))
          assert.fail(`${f} segment ${i} org`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('geo import: hostile files — bad CSV rows refused by line (or counted with --allow-partial), size limit, a tree that loops, not a MaxMind DB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'geo-import-'));
  try {
    const csv = join(dir, 'asn-ipv4.csv');
    writeFileSync(
      csv,
      [
        'ip_range_start,ip_range_end,autonomous_system_number,autonomous_system_organization',
        '175.45.176.0,175.45.179.255,131279,"Star Joint Venture Co. Ltd."',
        '10.0.0.0,9.255.255.255,1,backwards',
        '1.2.3,1.2.3.255,2,not an address',
        '2.0.0.0,2.0.0.255,4294967296,AS number too large',
        '3.0.0.0,3.0.0.255,3',
        '2001:db8::,2001:db8::ffff,64500,"Doc, Net"',
        '',
      ].join('\n'),
    );
    const db = join(dir, 's.duckdb');
    assert.throws(
      () => importGeoFiles([csv], db),
      (e: unknown) =>
        e instanceof GeoImportRefused &&
        /4 record\(s\) of .*asn-ipv4\.csv could not be read; nothing was imported/.test(e.message) &&
        JSON.stringify(e.skipped[0].skips.map((s) => s.at)) ===
          JSON.stringify(['line 3', 'line 4', 'line 5', 'line 6']),
    );
    assert.equal(existsSync(`${db}.geo.json`), false, 'nothing stored when refused');
    const m = importGeoFiles([csv], db, { allowPartial: true, noDefault: true });
    assert.equal(m.sources[0].skipped, 4);
    assert.equal(m.sources[0].kept, 2);
    const g = loadImportedGeo(db)!;
    assert.deepEqual(ours(g, '175.45.178.10'), {
      country: '',
      asn: 131279,
      org: 'Star Joint Venture Co. Ltd.',
    });
    assert.deepEqual(ours(g, v6Text((0x20010db8n << 96n) | 5n)), {
      country: '',
      asn: 64500,
      org: 'Doc, Net',
    });
    assert.equal(ours(g, '10.0.0.1').asn, 0);

    assert.throws(() => importGeoFiles([csv], db, { maxBytes: 100 }), /more than the limit of 100/);
    assert.throws(
      () => importGeoFiles([csv], db, { maxRecords: 3, allowPartial: true }),
      /asn-ipv4\.csv: more than 3 networks\/rows; refused/,
    );

    // A tree whose right record at the root points back to the root: a DAG, refused, not walked forever.
    const ok = writeMmdb(
      [
        { start: 0n, prefix: 1, data: { country: { iso_code: 'KP' } } },
        { start: 1n << 31n, prefix: 2, data: { country: { iso_code: 'CN' } } },
      ],
      {
        ipVersion: 4,
        recordSize: 24,
        databaseType: 'GeoLite2-Country',
        buildEpoch: 0,
      },
    );
    const looped = Buffer.from(ok);
    looped.writeUIntBE(0, 3, 3); // node 0, right record → node 0
    writeFileSync(join(dir, 'loop.mmdb'), looped);
    assert.throws(
      () => importGeoFiles([join(dir, 'loop.mmdb')], db),
      /node 0 is reached twice \(not a tree\)/,
    );
    // A data pointer past the data section: that network is a skipped record, named.
    const wild = Buffer.from(ok);
    wild.writeUIntBE(0xfffff0, 0, 3);
    writeFileSync(join(dir, 'wild.mmdb'), wild);
    assert.throws(
      () => importGeoFiles([join(dir, 'wild.mmdb')], db),
      (e: unknown) => e instanceof GeoImportRefused && /network 0\.0\.0\.0\/1/.test(e.skipped[0].skips[0].at),
    );
    // The marker but no valid metadata.
    writeFileSync(
      join(dir, 'fake.mmdb'),
      Buffer.concat([
        Buffer.alloc(64),
        Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'),
        Buffer.from([0xe0]),
      ]),
    );
    assert.throws(() => importGeoFiles([join(dir, 'fake.mmdb')], db), /fake\.mmdb: /);
    // The earlier good import is still what the store uses.
    assert.equal(readGeoManifest(db)!.sources[0].file, 'asn-ipv4.csv');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('coinradar geo import / info / reset: the store’s lookups use the import (packaged data for what it lacks), info names the source, reset goes back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'geo-import-'));
  try {
    const db = join(dir, 'cert.duckdb');
    const file = join(dir, 'dbip-country-lite-2026-12.mmdb');
    // A CERT's newer data that puts 77.94.35.0/24 in KP (GeoLite2 of the package says LT).
    writeFileSync(
      file,
      writeMmdb(
        [
          {
            start: (77n << 24n) | (94n << 16n) | (35n << 8n),
            prefix: 24,
            data: { country: { iso_code: 'KP' } },
          },
        ],
        {
          ipVersion: 4,
          recordSize: 24,
          databaseType: 'DBIP-Country-Lite',
          buildEpoch: Date.UTC(2026, 11, 1) / 1000,
        },
      ),
    );
    const before = await runCli(['geo', '--db', db, '--format', 'csv', '77.94.35.1']);
    assert.match(before.out, /77\.94\.35\.1,LT,51259,Arcus Novus UAB,kp/);
    const imp = await runCli(['geo', 'import', '--db', db, file]);
    assert.match(imp.out, /imported 1 file\(s\) for .*cert\.duckdb/);
    assert.match(
      imp.out,
      /dbip-country-lite-2026-12\.mmdb\s+mmdb\s+DBIP-Country-Lite\s+country v4\s+2026-12-01\s+2\.0\s+1\s+0/,
    );
    assert.match(
      imp.out,
      /from the packaged data: country v6 from @ip-location-db\/geolite2-country .*; asn v4 from @ip-location-db\/asn/,
    );
    const after = await runCli(['geo', '--db', db, '--format', 'csv', '77.94.35.1', '8.8.8.8']);
    // Country from the import; the ASN from the packaged data; 8.8.8.8 is in no imported network.
    assert.match(after.out, /77\.94\.35\.1,KP,51259,Arcus Novus UAB,kp/);
    assert.match(after.out, /8\.8\.8\.8,,15169,Google LLC,/);
    // Enrichment of that store (ingest, collect, serve --collect) uses the import too.
    const batch = new FlowBatch(1, 'test');
    batch.push();
    batch.ipVersion[0] = 4;
    batch.src.set([77, 94, 35, 1]);
    batch.dst.set([8, 8, 8, 8]);
    const enriched = (await loadEnricher({ geo: true, db })).enrich(batch);
    assert.deepEqual([enriched.srcCountry[0], enriched.dstCountry[0], enriched.dstAsn[0]], ['KP', '', 15169]);
    const plain = (await loadEnricher({ geo: true, db: join(dir, 'other.duckdb') })).enrich(batch);
    assert.equal(plain.srcCountry[0], 'LT');
    const info = await runCli(['geo', 'info', '--db', db, '--format', 'json']);
    const j = JSON.parse(info.out) as {
      source: string;
      sources: { file: string; buildDate: string; sha256: string }[];
    };
    assert.equal(j.source, 'imported');
    assert.equal(j.sources[0].file, 'dbip-country-lite-2026-12.mmdb');
    assert.equal(j.sources[0].buildDate, '2026-12-01T00:00:00.000Z');
    assert.equal(j.sources[0].sha256.length, 64);
    // Another store is untouched.
    const other = await runCli(['geo', '--db', join(dir, 'other.duckdb'), '--format', 'csv', '77.94.35.1']);
    assert.match(other.out, /77\.94\.35\.1,LT,/);
    const reset = await runCli(['geo', 'reset', '--db', db]);
    assert.match(reset.out, /removed the imported geo data of .*; enrichment uses the packaged default/);
    assert.equal(resetImportedGeo(db), false);
    const info2 = await runCli(['geo', 'info', '--db', db]);
    assert.match(info2.out, /packaged default \(@ip-location-db\/geolite2-country/);
    // A manifest whose tables are gone is an error, not a silent fall back.
    importGeoFiles([file], db);
    rmSync(`${db}.geo.bin`);
    assert.throws(() => loadImportedGeo(db), /geo\.bin: missing or cut short/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
