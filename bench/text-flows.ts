// Text flow readers: nfdump CSV and Zeek conn.log (TSV, JSON lines) → FlowBatch, flows/s.
// Peer in the same run: DuckDB's read_csv over the same file (the CSV reader the field
// trusts; it parses the columns but builds no flow records), and for JSON lines DuckDB's
// read_json. Input: the rows of the checked-in nfdump CSV and a Zeek log of the same flows,
// repeated with varied ports and addresses to N rows.
// Run: node --import tsx bench/text-flows.ts [rows]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Diagnostics } from '../src/flow/diagnostics.js';
import type { FlowSource, FlowSourceOptions } from '../src/flow/source.js';
import { readNfdumpCsv } from '../src/netflow/nfdump-csv.js';
import { ZEEK_CONN_FIELDS, ZEEK_CONN_TYPES, readZeekJson, readZeekTsv } from '../src/netflow/zeek.js';

const N = Number(process.argv[2] ?? 300000);
const dir = mkdtempSync(join(tmpdir(), 'coinradar-text-bench-'));
const fixture = readFileSync('test/fixtures/nfdump/bitcoin-ipfix.csv', 'utf8').split('\n');
const header = fixture[0];
const rows = fixture.slice(1).filter((l) => /^\d{4}-/.test(l));

const csv: string[] = [header];
const tsv: string[] = [
  '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn',
  '#open\t2011-03-28-15-58-57', `#fields\t${ZEEK_CONN_FIELDS.join('\t')}`, `#types\t${ZEEK_CONN_TYPES.join('\t')}`,
]; // prettier-ignore
const json: string[] = [];
for (let i = 0; i < N; i++) {
  const f = rows[i % rows.length].split(',');
  f[3] = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  f[5] = String(1024 + (i % 60000));
  csv.push(f.join(','));
  const ts = (1301327937.725 + i * 0.001).toFixed(6);
  const t = [
    ts,
    `C${i.toString(36)}`,
    f[3],
    f[5],
    f[4],
    f[6],
    'tcp',
    '-',
    '1.275000',
    '1000',
    '2000',
    'SF',
    '-',
    '-',
    '0',
    'ShADadFf',
    f[11],
    f[12],
    '12',
    '21449',
    '-',
  ];
  tsv.push(t.join('\t'));
  json.push(
    JSON.stringify({ ts: Number(ts), uid: t[1], 'id.orig_h': f[3], 'id.orig_p': +f[5], 'id.resp_h': f[4], 'id.resp_p': +f[6], proto: 'tcp', duration: 1.275, orig_bytes: 1000, resp_bytes: 2000, conn_state: 'SF', missed_bytes: 0, history: 'ShADadFf', orig_pkts: +f[11], orig_ip_bytes: +f[12], resp_pkts: 12, resp_ip_bytes: 21449 }),
  ); // prettier-ignore
}
tsv.push('#close\t2011-03-28-16-30-10');
const files = { csv: join(dir, 'flows.csv'), tsv: join(dir, 'conn.log'), json: join(dir, 'conn.json') };
writeFileSync(files.csv, csv.join('\n') + '\n');
writeFileSync(files.tsv, tsv.join('\n') + '\n');
writeFileSync(files.json, json.join('\n') + '\n');

async function ours(read: (p: string, o: FlowSourceOptions) => FlowSource, path: string): Promise<number> {
  const d = new Diagnostics();
  const t = performance.now();
  let n = 0;
  for await (const b of read(path, { diagnostics: d })) n += b.length;
  const s = (performance.now() - t) / 1000;
  if (n !== N || d.get('problems')) throw new Error(`read ${n} of ${N}: ${d.summary()}`);
  return n / s;
}

const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
async function duck(sql: string): Promise<number> {
  const t = performance.now();
  const r = await con.runAndReadAll(sql);
  const s = (performance.now() - t) / 1000;
  const n = Number(r.getRows()[0][0]);
  if (n !== N) throw new Error(`DuckDB counted ${n} of ${N}`);
  return n / s;
}

const cases: [string, () => Promise<number>, () => Promise<number>][] = [
  [
    'nfdump CSV',
    () => ours(readNfdumpCsv, files.csv),
    () =>
      duck(`SELECT count(*), sum(ibyt) FROM read_csv('${files.csv}', header = true, all_varchar = false)`),
  ],
  [
    'Zeek TSV',
    () => ours(readZeekTsv, files.tsv),
    () =>
      duck(`SELECT count(*), sum(orig_ip_bytes) FROM read_csv('${files.tsv}', delim = '\t', header = false,
            names = ['${ZEEK_CONN_FIELDS.join("','")}'], comment = '#', nullstr = '-')`),
  ],
  [
    'Zeek JSON lines',
    () => ours(readZeekJson, files.json),
    () =>
      duck(
        `SELECT count(*), sum(orig_ip_bytes) FROM read_json('${files.json}', format = 'newline_delimited')`,
      ),
  ],
];
console.log(`${N} rows per file`);
for (const [name, a, b] of cases) {
  await a(); // warm-up
  const rOurs = Math.max(await a(), await a());
  const rDuck = Math.max(await b(), await b());
  console.log(
    `${name}: coinradar ${(rOurs / 1e3).toFixed(0)} k flows/s, DuckDB ${(rDuck / 1e3).toFixed(0)} k rows/s, ratio ${(rOurs / rDuck).toFixed(2)}`,
  );
}
con.closeSync();
rmSync(dir, { recursive: true, force: true });
