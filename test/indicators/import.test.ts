// coinradar indicators import: what another store exported (STIX, MISP) or a CERT wrote (CSV)
// reaches detection (infrastructure lists) and screening (a list version), and a hostile file is
// checked before use, with what was left out counted and said.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfrastructureList } from '../../src/detect/infrastructure.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { addImportedInfrastructure } from '../../src/indicators/apply.js';
import { readIndicatorFile } from '../../src/indicators/read.js';
import { DuckDbDatabase } from '../../src/store/duckdb/database.js';
import { runCli } from '../cli-run.js';
import { flowRecord } from '../detect/flow-record.js';

const dir = mkdtempSync(join(tmpdir(), 'coinradar-indicators-'));
const p = (f: string) => join(dir, f);
type Obj = Record<string, unknown>;
let bundle: { objects: Obj[] };

before(async () => {
  await runCli([
    'scenario',
    'generate',
    '--db',
    p('a.duckdb'),
    '--hosts',
    '12',
    '--miners',
    '4',
    '--payload-hosts',
    '0.5',
    '--days',
    '35',
    '--start',
    '2017-04-26',
  ]);
  await runCli(['export', 'stix', '--db', p('a.duckdb'), '--scope', 'country:KP', '-o', p('a.stix.json')]);
  await runCli([
    'export',
    'misp',
    '--db',
    p('a.duckdb'),
    '--scope',
    'country:KP',
    '--objects',
    '-o',
    p('a.misp.json'),
  ]);
  bundle = JSON.parse(readFileSync(p('a.stix.json'), 'utf8'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The pool endpoints and server names the exported bundle's indicators name. */
function exported(): { endpoints: [string, number][]; domains: string[]; wallets: string[] } {
  const endpoints: [string, number][] = [];
  const domains: string[] = [];
  for (const o of bundle.objects.filter((x) => x.type === 'indicator')) {
    const pat = String(o.pattern);
    const ep = /dst_ref\.value = '([^']+)' AND network-traffic:dst_port = (\d+)\]$/.exec(pat);
    const dn = /^\[domain-name:value = '([^']+)'\]$/.exec(pat);
    if (ep) endpoints.push([ep[1], Number(ep[2])]);
    else if (dn) domains.push(dn[1]);
  }
  const wallets = bundle.objects
    .filter((x) => x.type === 'cryptocurrency-wallet')
    .map((x) => String(x.address));
  return { endpoints, domains, wallets };
}

async function importedList(db: string): Promise<InfrastructureList> {
  const d = await DuckDbDatabase.open(db);
  try {
    const list = new InfrastructureList();
    await addImportedInfrastructure(list, d);
    return list;
  } finally {
    await d.close();
  }
}

test('round trip: export stix from one store, import into another: detection and screening see every indicator', async () => {
  const x = exported();
  assert.ok(x.endpoints.length >= 2 && x.domains.length >= 1 && x.wallets.length >= 1, JSON.stringify(x));
  const r = await runCli(['indicators', 'import', p('a.stix.json'), '--db', p('b.duckdb')]);
  assert.match(
    r.out,
    new RegExp(
      `imported set 1: stix from coinradar, version \\S+: ${bundle.objects.length} read, ${x.endpoints.length + x.domains.length} infrastructure entries \\(detection\\), ${x.wallets.length} addresses`,
    ),
  );
  // Detection with the imported entries alone (the default catalogue holds these pools too, and its
  // entry would win the tie): every endpoint and name is found, with the import as its evidence.
  const list = await importedList(p('b.duckdb'));
  const detector = createDetector(list);
  for (const [ip, port] of x.endpoints) {
    const d = detectFlow(detector, flowRecord({ src: '175.45.178.10', dst: ip, dstPort: port }));
    const hit = d.find((e) => e.confidence === 'infrastructure');
    assert.ok(hit, `${ip}:${port} detected`);
    assert.equal(hit.evidence.list, 'import:coinradar');
    assert.match(String(hit.listVersion), /^import:coinradar@2017-05-30T/);
    assert.equal(
      detectFlow(detector, flowRecord({ dst: ip, dstPort: port + 1 })).filter(
        (e) => e.confidence === 'infrastructure',
      ).length,
      0,
      'another port is not the endpoint',
    );
  }
  for (const dn of x.domains) assert.equal(list.lookupDomain(`${dn}.`)[0]?.list, 'import:coinradar', dn);
  // `coinradar detect` loads them beside the default lists.
  const det = await runCli(['detect', '--db', p('b.duckdb'), '--no-behaviour']);
  assert.match(det.out, /lists: .*import:coinradar@2017-05-30T/);
  // Screening: the wallets are on the list version the import made.
  const code = process.exitCode;
  const s = await runCli(['screen', '--db', p('b.duckdb'), '--format', 'csv', ...x.wallets]);
  process.exitCode = code;
  for (const w of x.wallets)
    assert.match(s.out, new RegExp(`^${w},exact,.*indicators:coinradar`, 'm'), s.out);
  // The same bytes again: nothing new.
  const again = await runCli(['indicators', 'import', p('a.stix.json'), '--db', p('b.duckdb')]);
  assert.match(again.out, /^already imported as set 1/);
});

test('round trip through MISP (attributes and ip-port objects): the same endpoints, names and wallets', async () => {
  const x = exported();
  const r = await runCli(['indicators', 'import', p('a.misp.json'), '--db', p('c.duckdb')]);
  assert.match(r.out, /imported set 1: misp from coinradar/);
  const list = await importedList(p('c.duckdb'));
  for (const [ip, port] of x.endpoints)
    assert.equal(list.lookupIpText(ip, port)[0]?.list, 'import:coinradar', `${ip}:${port}`);
  for (const dn of x.domains) assert.ok(list.lookupDomain(dn).length, dn);
  const parsed = readIndicatorFile(p('a.misp.json'));
  assert.deepEqual(parsed.addresses.map((a) => a.address).sort(), [...x.wallets].sort());
  // Hosts of the scope (ip-src) are not pools: skipped, and said why.
  assert.ok(parsed.skipped.some((s) => /type "ip-src"/.test(s.why)));
  assert.ok(
    !parsed.infrastructure.some((e) => e.value.startsWith('175.45.')),
    'no host of the scope became a pool',
  );
});

test('a CSV import reaches detection on ingest (a pool endpoint no catalogue has)', async () => {
  const r = await runCli(['indicators', 'import', 'examples/indicators.csv', '--db', p('d.duckdb')]);
  assert.match(
    r.out,
    /csv from example-cert, version 2026-12-01: 5 read, 2 infrastructure entries \(detection\), 1 addresses .*2 skipped/,
  );
  assert.match(r.out, /line 8: not an IP address: "999\.1\.1\.1"/);
  assert.match(r.out, /line 9: network "10\.0\.0\.0\/4" is wider than a \/8/);
  await runCli(['ingest', '--db', p('d.duckdb'), 'examples/conn.log']);
  const d = await runCli(['detections', '--db', p('d.duckdb'), '--format', 'jsonl']);
  const rows = d.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const hit = rows.find((row) => row.dst === '188.165.213.169');
  assert.ok(hit, d.out);
  assert.equal(hit.confidence, 'infrastructure');
  assert.equal(hit.evidence.list, 'import:example-cert');
  assert.equal(hit.list_version, 'import:example-cert@2026-12-01');
});

test('the pool catalogue is updatable the same way: the 2018 catalogue CSV imports as entries', () => {
  const r = readIndicatorFile('src/detect/data/mining-servers-2018-05.csv');
  assert.equal(r.format, 'csv');
  const e = r.infrastructure.find((x) => x.value === '120.55.226.251' && x.port === 3333);
  assert.ok(e, 'BTCChina stratum endpoint');
  assert.equal(e.label, 'stratum');
  assert.ok(r.infrastructure.some((x) => x.value === 'stratum.btcchina.com'));
  assert.ok(r.infrastructure.length > 150, `${r.infrastructure.length} entries`);
});

test('hostile files: size checked before reading, broken JSON refused, each bad item skipped with its reason', async () => {
  await assert.rejects(
    runCli(['indicators', 'import', p('a.stix.json'), '--db', p('e.duckdb'), '--max-bytes', '1000']),
    /more than the limit of 1000/,
  );
  const f = p('hostile.json');
  writeFileSync(f, '{"type": "bundle", "id": "bundle--1", "objects": [');
  assert.throws(() => readIndicatorFile(f), /not JSON/);
  writeFileSync(f, JSON.stringify({ type: 'bundle', id: 'bundle--x', objects: [] }));
  assert.throws(() => readIndicatorFile(f), /not a STIX bundle/);
  const id = (t: string, n: number) => `${t}--00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const ind = (n: number, pattern: string, more: Obj = {}) => ({
    type: 'indicator',
    spec_version: '2.1',
    id: id('indicator', n),
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    pattern,
    pattern_type: 'stix',
    valid_from: '2026-01-01T00:00:00Z',
    ...more,
  });
  const objects = [
    ind(1, "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'pool.example.net']"),
    ind(2, "[network-traffic:dst_ref.value = '2001:db8::7' AND network-traffic:dst_port = 4444]"),
    ind(3, "[ipv4-addr:value = '198.51.100.8'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.9']"),
    ind(4, "[ipv4-addr:value = '198.51.100.10'", {}),
    ind(5, 'alert tcp any any -> any 3333', { pattern_type: 'snort' }),
    ind(6, "[ipv4-addr:value = '198.51.100.11']", { revoked: true }),
    ind(7, `[domain-name:value = '${'a'.repeat(5000)}.com']`),
    ind(8, "[ipv4-addr:value = '0.0.0.0/1']"),
    ind(9, "[file:name = 'miner.exe']"),
    ind(10, "[ipv4-addr:value = '198.51.100.12']", { valid_from: 'yesterday' }),
    { type: 'indicator', id: 'indicator--not-a-uuid' },
    'a string',
    {
      type: 'cryptocurrency-wallet',
      id: id('cryptocurrency-wallet', 11),
      address: '1NEngVXG75pCxFr38mAd8G3jkpvXALgPkQ',
      currency: 'BTC',
    },
    { type: 'cryptocurrency-wallet', id: id('cryptocurrency-wallet', 12), address: 'x y', currency: 'BTC' },
  ];
  writeFileSync(f, JSON.stringify({ type: 'bundle', id: id('bundle', 0), objects }));
  const r = readIndicatorFile(f, { source: 'hostile' });
  assert.deepEqual(r.infrastructure.map((e) => `${e.value}:${e.port}`).sort(), [
    '198.51.100.7:0',
    '2001:db8::7:4444',
    'pool.example.net:0',
  ]);
  assert.deepEqual(
    r.addresses.map((a) => a.address),
    ['1NEngVXG75pCxFr38mAd8G3jkpvXALgPkQ'],
  );
  const why = (n: number) => r.skipped.find((s) => s.where === id('indicator', n))?.why ?? '';
  assert.match(why(3), /not a plain OR of equalities/);
  assert.match(why(4), /does not parse/);
  assert.match(why(5), /pattern_type "snort"/);
  assert.match(why(6), /revoked/);
  assert.match(why(7), /more than 4096/);
  assert.match(r.skipped.find((s) => s.where.startsWith(id('indicator', 8)))?.why ?? '', /wider than a \/8/);
  assert.match(r.skipped.find((s) => s.where.startsWith(id('indicator', 9)))?.why ?? '', /file:name/);
  assert.match(why(10), /valid_from/);
  assert.ok(r.skipped.some((s) => s.where === 'objects[10]' && /not indicator--<uuid>/.test(s.why)));
  assert.ok(r.skipped.some((s) => s.where === 'objects[11]'));
  assert.ok(r.skipped.some((s) => s.where === id('cryptocurrency-wallet', 12)));
  assert.equal(r.skippedCount, 11);
  assert.equal(r.source, 'hostile');

  const m = p('hostile-misp.json');
  writeFileSync(
    m,
    JSON.stringify({
      Event: {
        info: 'x',
        timestamp: '1700000000',
        Orgc: { name: 'Some CERT', uuid: 'u' },
        Attribute: [
          { type: 'ip-dst|port', value: '198.51.100.20|3333', to_ids: true },
          { type: 'ip-dst|port', value: '198.51.100.21|3333', to_ids: false },
          { type: 'domain', value: 'pool.example.com', to_ids: true, deleted: true },
          { type: 'ip-dst|port', value: '198.51.100.22|99999', to_ids: true },
          { type: 'domain', value: 'not a domain', to_ids: true },
          {
            type: 'xmr',
            value:
              '44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A',
            to_ids: false,
          },
          { type: 'ip-dst', value: 5, to_ids: true },
        ],
      },
    }),
  );
  const mr = readIndicatorFile(m);
  assert.equal(mr.source, 'Some CERT');
  assert.equal(mr.version, '2023-11-14T22:13:20.000Z');
  assert.deepEqual(
    mr.infrastructure.map((e) => `${e.value}:${e.port}`),
    ['198.51.100.20:3333'],
  );
  assert.equal(mr.addresses.length, 1);
  assert.equal(mr.skippedCount, 5);
  assert.ok(mr.skipped.some((s) => /to_ids not true/.test(s.why)));
  assert.ok(mr.skipped.some((s) => s.why === 'deleted'));
  assert.ok(mr.skipped.some((s) => /not a port/.test(s.why)));
  assert.ok(mr.skipped.some((s) => /not a domain name/.test(s.why)));
  assert.ok(mr.skipped.some((s) => s.why === 'no string value'));
  // A refused file leaves no trace in the store.
  await assert.rejects(
    runCli(['indicators', 'import', p('hostile.json'), '--db', p('f.duckdb'), '--max-bytes', '10']),
  );
  const l = await runCli(['indicators', 'list', '--db', p('b.duckdb'), '--format', 'jsonl']);
  assert.equal(l.out.trim().split('\n').length, 1);
});
