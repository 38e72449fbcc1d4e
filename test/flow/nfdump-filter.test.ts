// nfdump filters compiled to SQL: what each term means (run on a small store, expected flows
// worked out by hand from nfdump 1.7's grammar), the errors (position and what was expected), and
// that no filter text reaches the SQL (quotes, semicolons, comments, random bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileNfdumpFilter, flowCondition, parseNumber } from '../../src/flow/nfdump-filter.js';
import { DuckDbFlowStore, ipValue } from '../../src/store/duckdb/flows.js';
import { runCli } from '../cli-run.js';

interface Row {
  id: number;
  v: 4 | 6;
  src: string;
  dst: string;
  sp: number;
  dp: number;
  proto: number;
  pk: number;
  by: number;
  rpk?: number;
  rby?: number;
  flags?: number;
  sas?: number;
  das?: number;
}

// Eight flows covering both families, tcp/udp/icmp, flags, AS numbers and counters.
const ROWS: Row[] = [
  {
    id: 1,
    v: 4,
    src: '175.45.176.10',
    dst: '10.0.0.1',
    sp: 50000,
    dp: 8333,
    proto: 6,
    pk: 10,
    by: 1500,
    flags: 0x1a,
    sas: 131279,
    das: 0,
  },
  {
    id: 2,
    v: 4,
    src: '10.0.0.1',
    dst: '175.45.179.255',
    sp: 3333,
    dp: 40000,
    proto: 6,
    pk: 2,
    by: 120,
    flags: 0x02,
    sas: 0,
    das: 131279,
  },
  {
    id: 3,
    v: 4,
    src: '192.168.1.5',
    dst: '8.8.8.8',
    sp: 5353,
    dp: 53,
    proto: 17,
    pk: 1,
    by: 80,
    sas: 0,
    das: 15169,
  },
  { id: 4, v: 4, src: '192.168.1.5', dst: '175.45.180.1', sp: 0, dp: 2048, proto: 1, pk: 4, by: 336 },
  {
    id: 5,
    v: 6,
    src: '2001:db8::1',
    dst: '2001:db8:1::2',
    sp: 443,
    dp: 60000,
    proto: 6,
    pk: 2000,
    by: 2_500_000,
    flags: 0x11,
    rpk: 5,
    rby: 400,
  },
  { id: 6, v: 6, src: 'fe80::1', dst: 'ff02::fb', sp: 5353, dp: 5353, proto: 17, pk: 3, by: 300 },
  { id: 7, v: 6, src: '2001:db9::7', dst: '::ffff:1.2.3.4', sp: 0, dp: 32768, proto: 58, pk: 1, by: 64 },
  {
    id: 8,
    v: 4,
    src: '10.255.255.255',
    dst: '11.0.0.0',
    sp: 80,
    dp: 80,
    proto: 6,
    pk: 1_000_001,
    by: 1_000_000_001,
    flags: 0x3f,
  },
];

async function store(): Promise<DuckDbFlowStore> {
  const s = await DuckDbFlowStore.open(':memory:');
  await s.db.run(
    "INSERT INTO sources (id, name, kind, ingested_at, flows, complete) VALUES (1, 'test', 'test', now(), 8, true)",
  );
  for (const r of ROWS) {
    await s.db.run(
      `INSERT INTO flow_table VALUES ($1, 1, 0, 0, 0, $2, ip_hi($3), ip_lo($3), ip_hi($4), ip_lo($4), $5, $6, $7, $8, $9, $10, $11, $12,
        1, '', 0, '', '', $13, $14, '', '', '', NULL, 0, NULL, NULL, NULL, NULL)`,
      [
        r.id,
        r.v,
        ipValue(r.src).toString(),
        ipValue(r.dst).toString(),
        r.sp,
        r.dp,
        r.proto,
        r.pk,
        r.by,
        r.rpk ?? 0,
        r.rby ?? 0,
        r.flags ?? 0,
        r.sas ?? 0,
        r.das ?? 0,
      ],
    );
  }
  return s;
}

async function ids(s: DuckDbFlowStore, filter: string): Promise<number[]> {
  const c = compileNfdumpFilter(filter);
  assert.ok(c.ok, `${filter}: ${!c.ok && c.error.message}`);
  const rows = await s.db.all<{ id: number }>(`SELECT id FROM flow_rows WHERE ${c.sql} ORDER BY id`);
  return rows.map((r) => Number(r.id));
}

test('each term selects the flows nfdump would', async () => {
  const s = await store();
  const cases: [string, number[]][] = [
    ['any', [1, 2, 3, 4, 5, 6, 7, 8]],
    ['', [1, 2, 3, 4, 5, 6, 7, 8]],
    ['# only a comment', [1, 2, 3, 4, 5, 6, 7, 8]],
    ['not any', []],
    ['proto tcp', [1, 2, 5, 8]],
    ['PROTO UDP', [3, 6]],
    ['proto icmp', [4]],
    ['proto icmp6', [7]],
    ['proto 58', [7]],
    ['ipv4', [1, 2, 3, 4, 8]],
    ['inet', [1, 2, 3, 4, 8]],
    ['ipv6', [5, 6, 7]],
    ['inet6', [5, 6, 7]],
    ['host 10.0.0.1', [1, 2]],
    ['ip 10.0.0.1', [1, 2]],
    ['src host 10.0.0.1', [2]],
    ['dst host 10.0.0.1', [1]],
    ['src and dst host 10.0.0.1', []],
    ['host 2001:db8::1', [5]],
    ['host ::ffff:1.2.3.4', [7]],
    ['host 1.2.3.4', []],
    ['host in [ 8.8.8.8 2001:db8::1, 10.0.0.0/8 ]', [1, 2, 3, 5, 8]],
    ['net 175.45.176.0/22', [1, 2]],
    ['net 175.45.176.0 255.255.252.0', [1, 2]],
    ['net 175.45.177.9/22', [1, 2]],
    ['dst net 175.45.176.0/22', [2]],
    ['net 10.0.0.0/8', [1, 2, 8]],
    ['net 0.0.0.0/0', [1, 2, 3, 4, 8]],
    ['net 10.0.0.1 255.0.0.255', [1, 2]],
    ['net 10.0.0.0 255.0.0.255', []],
    ['net 2001:db8::/32', [5]],
    ['net 2001:db8::/31', [5, 7]],
    ['src net fe80::/10', [6]],
    ['net ::/0', [5, 6, 7]],
    ['port 5353', [3, 6]],
    ['src port 5353', [3, 6]],
    ['dst port 5353', [6]],
    ['src and dst port 5353', [6]],
    ['dst or src port 443', [5]],
    ['port > 50000', [5]],
    ['port gt 49999', [1, 5]],
    ['dst port < 53', []],
    ['dst port <= 53', [3]],
    ['dst port lt 81', [3, 8]],
    ['port >= 60000', [5]],
    ['port ge 60000', [5]],
    ['port == 80', [8]],
    ['port = 80', [8]],
    ['port eq 80', [8]],
    ['port le 0', [4, 7]],
    ['port in [ 53 443 ]', [3, 5]],
    ['dst port in [8333, 3333, 40000]', [1, 2]],
    ['as 131279', [1, 2]],
    ['src as 131279', [1]],
    ['dst as in [15169 131279]', [2, 3]],
    ['as > 100000', [1, 2]],
    ['flags S', [1, 2, 8]],
    ['flags SA', [1, 8]],
    ['flags AP', [1, 8]],
    ['flags X', [8]],
    ['flags F', [5, 8]],
    ['flags 2', [2]],
    ['flags > 2', [1, 5, 8]],
    ['packets > 1k', [5, 8]],
    ['packets > 1m', [8]],
    ['packets >= 2k', [5, 8]],
    ['bytes > 1g', [8]],
    ['bytes > 2500000', [8]],
    ['bytes >= 2500000', [5, 8]],
    ['bytes 80', [3]],
    ['bytes < 0x80', [2, 3, 7]],
    ['out packets 5', [5]],
    ['in packets 5', []],
    ['out bytes > 0', [5]],
    ['proto tcp and port 80', [8]],
    ['proto tcp && port 80', [8]],
    ['port 80 or port 53', [3, 8]],
    ['port 80 || port 53', [3, 8]],
    ['not proto tcp', [3, 4, 6, 7]],
    ['!proto tcp', [3, 4, 6, 7]],
    ['! ! proto tcp', [1, 2, 5, 8]],
    // NOT binds tighter than AND, AND tighter than OR (nfdump's %left/%prec order).
    ['not proto tcp and ipv4', [3, 4]],
    ['not (proto tcp and ipv4)', [3, 4, 5, 6, 7]],
    ['proto udp or proto icmp and ipv4', [3, 4, 6]],
    ['(proto udp or proto icmp) and ipv4', [3, 4]],
    ['proto tcp and not port 80 or port 53', [1, 2, 3, 5]],
    ['ipv6 and (port 5353 or net 2001:db8::/32)', [5, 6]],
  ];
  try {
    for (const [f, want] of cases) assert.deepEqual(await ids(s, f), want, f);
  } finally {
    await s.close();
  }
});

test('errors name the position and what was expected', () => {
  const cases: [string, number, RegExp][] = [
    ['proto tcp and', 13, /expected a filter term.*found end of filter/],
    ['(port 80', 8, /expected '\)', found end of filter/],
    ['port 80)', 7, /expected 'and', 'or' or the end of the filter, found '\)'/],
    ['port 70000', 5, /port number 0\.\.65535 of at most 65535, found '70000'/],
    ['port in [ ]', 10, /port number.*found '\]'/],
    ['port in [80 , 443 ,]', 19, /port number/],
    ['proto 300', 6, /protocol number 0\.\.255/],
    ['proto foo', 6, /protocol number 0\.\.255 or name/],
    ['net 10/8', 4, /IPv4 or IPv6 address/],
    ['host 10.1', 5, /IPv4 or IPv6 address/],
    ['host 1.2.3.256', 5, /IPv4 or IPv6 address/],
    ['host example.com', 5, /host names are not looked up/],
    ['host 1.2.3.4/32', 12, /a prefix needs 'net'/],
    ['net 10.0.0.0', 12, /'\/' and a prefix length, or a dotted netmask, found end/],
    ['net 10.0.0.0 mask 255.0.0.0', 13, /found 'mask'/],
    ['dst net 10.0.0.0/33', 17, /prefix length 0\.\.32/],
    ['net 2001:db8::/129', 15, /prefix length 0\.\.128/],
    ['as 4294967296', 3, /AS number/],
    ['flags sa', 6, /TCP flags/],
    ['flags AA', 6, /TCP flags/],
    ['flags 64', 6, /flags value 0\.\.63/],
    ['packets > 1.5k', 10, /packets count/],
    ['src port != 80', 9, /port number.*found '!'/],
    ['port => 80', 6, /port number.*found '>'/],
    ['src packets > 3', 4, /'host', 'ip', 'net', 'port' or 'as' after src\/dst/],
    ['duration > 10', 0, /a filter term/],
    ['port 80 and and port 53', 12, /a filter term/],
    ['port 80 ; drop table flows', 8, /found ';'/],
  ];
  for (const [f, offset, re] of cases) {
    const c = compileNfdumpFilter(f);
    assert.equal(c.ok, false, `${f} must be rejected`);
    if (c.ok) continue;
    assert.equal(c.error.offset, offset, `${f}: ${c.error.message}`);
    assert.match(c.error.message, re, f);
    assert.match(c.error.message, new RegExp(`^position ${offset}: expected `), f);
  }
  assert.throws(
    () => flowCondition('port 80 or', undefined),
    /--filter: position 10: expected a filter term/,
  );
});

test('numbers: k/m/g/t are powers of 1000, 0x is hex, anything else is not a number', () => {
  assert.equal(parseNumber('1k'), 1000n);
  assert.equal(parseNumber('2M'), 2_000_000n);
  assert.equal(parseNumber('3g'), 3_000_000_000n);
  assert.equal(parseNumber('1T'), 1_000_000_000_000n);
  assert.equal(parseNumber('0x50'), 80n);
  assert.equal(parseNumber('080'), 80n);
  assert.equal(parseNumber('1.5k'), null);
  assert.equal(parseNumber('-1'), null);
  assert.equal(parseNumber('1e3'), null);
});

test('--filter and --where are ANDed; a qualifier prefixes every column', () => {
  assert.equal(flowCondition(undefined, undefined), undefined);
  assert.equal(flowCondition(undefined, 'dst_port = 1'), '(dst_port = 1)');
  assert.equal(
    flowCondition('proto 17', 'year(first_ts) = 2017'),
    '(proto = 17) AND (year(first_ts) = 2017)',
  );
  const q = compileNfdumpFilter(
    'src host 10.0.0.1 and port 80 and flags S and packets > 1 and as 3 and ipv4',
    {
      qualifier: 'f.',
    },
  );
  assert.ok(q.ok);
  if (q.ok) {
    const bare = q.sql.replace(/'[0-9]+'::UHUGEINT/g, '').match(/\b[a-z_]+\b/g) ?? [];
    const columns = bare.filter(
      (w) => !['and', 'or', 'not', 'between', 'uhugeint', 'in', 'f'].includes(w.toLowerCase()),
    );
    for (const c of columns) assert.ok(q.sql.includes(`f.${c}`), `${c} qualified in ${q.sql}`);
  }
  assert.throws(() => compileNfdumpFilter('any', { qualifier: "f'; --" }), /bad column qualifier/);
});

test('hostile filters: quotes, semicolons and comments never reach the SQL', async () => {
  const s = await store();
  try {
    const hostile = [
      "port 80'; DROP TABLE flow_table; --",
      'port 80"; DROP TABLE flow_table; --',
      "host 1.2.3.4' OR '1'='1",
      'port 80 -- and proto tcp',
      'port 80 /* x */',
      'port 80; DELETE FROM flow_table',
      "proto 'tcp'",
      'as 1 UNION SELECT 1',
      'port in [80) OR (1=1]',
      "net 10.0.0.0/8'",
      'port 80\u0000',
      'port ８０',
    ];
    for (const f of hostile) {
      const c = compileNfdumpFilter(f);
      if (c.ok) {
        // Accepted only if every word was a keyword, number or address: the SQL holds none of
        // the text's punctuation, and it runs.
        assert.doesNotMatch(c.sql, /;|--|\/\*|"/, f);
        await s.db.all(`SELECT count(*) FROM flow_rows WHERE ${c.sql}`);
      } else {
        assert.ok(c.error.offset >= 0 && c.error.offset <= f.length, f);
      }
    }
    // '--' is a word of nfdump's scanner ([A-Za-z0-9_:.-]+): rejected as a term, not a comment.
    const dash = compileNfdumpFilter('port 80 and --');
    assert.equal(dash.ok, false);
    // Random filters made of the grammar's own words and characters: every one is either an error
    // value or SQL DuckDB runs (never a DuckDB parser error). Bounded in count and time.
    const words = [
      'and',
      'or',
      'not',
      '!',
      '&&',
      '||',
      '(',
      ')',
      '[',
      ']',
      ',',
      '/',
      'src',
      'dst',
      'host',
      'net',
      'port',
      'as',
      'proto',
      'tcp',
      'udp',
      'flags',
      'SA',
      'packets',
      'bytes',
      '>',
      '<=',
      'eq',
      'in',
      'any',
      'ipv6',
      '10.0.0.0',
      '2001:db8::',
      '8',
      '255.255.0.0',
      '80',
      '1k',
      "'",
      ';',
      '"',
      '--',
      '0x1f',
    ];
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let accepted = 0;
    const until = Date.now() + 10_000;
    for (let i = 0; i < 3000 && Date.now() < until; i++) {
      const f = Array.from({ length: 1 + rnd(8) }, () => words[rnd(words.length)]).join(' ');
      const c = compileNfdumpFilter(f);
      if (!c.ok) continue;
      accepted++;
      assert.doesNotMatch(c.sql, /;|--|"/, f);
      await s.db.all(`SELECT count(*) FROM flow_rows WHERE ${c.sql}`);
    }
    assert.ok(accepted > 20, `some random filters were valid (${accepted})`);
    const [{ n }] = await s.db.all<{ n: number }>('SELECT count(*)::INTEGER AS n FROM flow_table');
    assert.equal(n, ROWS.length, 'the table is untouched');
  } finally {
    await s.close();
  }
});

test('bounded: long filters and deep nesting are errors, not stack overflows', () => {
  const deep = '('.repeat(100) + 'any' + ')'.repeat(100);
  const d = compileNfdumpFilter(deep);
  assert.equal(d.ok, false);
  if (!d.ok) assert.match(d.error.message, /at most 64 nested/);
  const nots = 'not '.repeat(70) + 'any';
  assert.equal(compileNfdumpFilter(nots).ok, false);
  const long = Array.from({ length: 3000 }, (_, i) => `port ${i}`).join(' or ');
  const l = compileNfdumpFilter(long);
  assert.equal(l.ok, false);
  if (!l.ok) assert.match(l.error.message, /at most 16384 characters/);
  const wide = Array.from({ length: 1000 }, (_, i) => `port ${i}`).join(' or ');
  assert.ok(compileNfdumpFilter(wide).ok, 'a long flat OR is fine');
});

test('--filter through the CLI: detections (columns qualified f.), series and hosts agree with --where', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-filter-cli-'));
  const db = join(dir, 'f.duckdb');
  try {
    await runCli([
      'ingest',
      '--db',
      db,
      '--no-geo',
      'test/fixtures/netflow/softflowd-ipfix-bidir-mining.pcap',
    ]);
    await runCli(['ingest', '--db', db, '--no-geo', 'test/fixtures/netflow/softflowd-v9-bitcoin.pcapng']);
    const pairs: [string, string][] = [
      ['dst port 3333 or src port 3333', '(dst_port = 3333 OR src_port = 3333)'],
      ['proto tcp and dst port 8333', '(proto = 6 AND dst_port = 8333)'],
      [
        'not net 192.168.0.0/16',
        "NOT (regexp_matches(src, '^192[.]168[.]') OR regexp_matches(dst, '^192[.]168[.]'))",
      ],
    ];
    let seen = 0;
    for (const [filter, where] of pairs) {
      const det = async (...a: string[]) =>
        (await runCli(['detections', '--db', db, '--format', 'jsonl', ...a])).out.split('\n').filter(Boolean);
      const viaFilter = await det('--filter', filter);
      assert.deepEqual(
        viaFilter,
        await det('--where', where.replace(/\b(src|dst|proto|src_port|dst_port)\b/g, 'f.$1')),
        filter,
      );
      seen += viaFilter.length;
      const series = async (...a: string[]) =>
        (await runCli(['series', '--db', db, '--format', 'jsonl', ...a])).out;
      assert.equal(await series('--filter', filter), await series('--where', where), filter);
      const hosts = async (...a: string[]) =>
        (await runCli(['hosts', '--db', db, '--format', 'jsonl', ...a])).out;
      assert.equal(await hosts('--filter', filter), await hosts('--where', where), filter);
    }
    assert.ok(seen > 0, 'the filters select detections');
    // The two together are ANDed.
    const both = (
      await runCli([
        'flows',
        '--db',
        db,
        '--format',
        'jsonl',
        '--filter',
        'proto tcp',
        '--where',
        'dst_port = 3333',
      ])
    ).out;
    const one = (
      await runCli(['flows', '--db', db, '--format', 'jsonl', '--filter', 'proto tcp and dst port 3333'])
    ).out;
    assert.equal(both, one);
    assert.ok(one.length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
