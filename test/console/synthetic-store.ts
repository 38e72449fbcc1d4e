/**
 * A flow store written straight from SQL (`INSERT … SELECT … FROM range(N)`), for the console's
 * table test (10,000 hosts) and its benchmark (50 M flows): no parser, no enrichment, so building
 * costs what DuckDB takes to write the rows. The rows are shaped like enriched flows: internal
 * hosts in 10.0.0.0/8 spread over a few countries and ASes, a quarter of the flows on crypto ports
 * (Stratum to one pool address, Bitcoin P2P), the rest web and DNS, times spread over `days` with
 * a surge: crypto flows start on `onsetDay`, so the overview has an onset to draw.
 */
import { DuckDbFlowStore } from '../../src/store/duckdb/flows.js';
import { Rollup } from '../../src/store/duckdb/rollup.js';

export interface SyntheticStore {
  /** Flows written. */
  flows: number;
  /** Distinct internal hosts (each has crypto flows when flows ≥ hosts). */
  hosts: number;
  days: number;
  startMs: number;
  /** Day (from 0) from which crypto ports carry flows. */
  onsetDay: number;
}

export const SYNTHETIC_DEFAULTS: SyntheticStore = {
  flows: 100_000,
  hosts: 10_000,
  days: 60,
  startMs: Date.UTC(2017, 3, 1),
  onsetDay: 30,
};

/** ::ffff:a.b.c.d as the store's 128-bit value. */
const V4 = 0xffff_0000_0000n;
const ip4 = (a: number, b: number, c: number, d: number) =>
  V4 + BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d);

/** The source countries and ASes internal hosts are spread over (host number mod 8). */
export const SYNTHETIC_COUNTRIES = ['KP', 'CN', 'RU', 'IR', 'US', 'DE', 'BR', 'IN'];
const ASNS = [131279, 4134, 12389, 58224, 7922, 3320, 28573, 9829];

/** Write the store at `path` (a new file); returns how long the rows took to write, in ms. */
export async function buildSyntheticStore(path: string, over: Partial<SyntheticStore> = {}): Promise<number> {
  const o = { ...SYNTHETIC_DEFAULTS, ...over };
  const t0 = performance.now();
  const store = await DuckDbFlowStore.open(path);
  try {
    const db = store.db;
    await db.run(
      "INSERT INTO sources (id, name, kind, ingested_at, flows, complete) VALUES (nextval('source_id_seq'), 'synthetic', 'synthetic', now(), $1, true)",
      [o.flows],
    );
    const span = o.days * 86_400_000;
    const onsetMs = o.onsetDay * 86_400_000;
    const int = (n: number) => {
      if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a count: ${n}`);
      return String(n);
    };
    const list = (xs: (string | number)[]) =>
      `[${xs.map((x) => (typeof x === 'number' ? x : `'${x}'`)).join(', ')}]`;
    const host = `(i % ${int(o.hosts)})`;
    // An address expression as flow_table's two words (flows.sql).
    const words = (v: string) => `ip_hi(${v}), ip_lo(${v})`;
    // h: a hash of the row number, so columns do not move in lock-step with it. Every fourth pass
    // over the hosts is crypto (the first included: each host has some); its time is then at or after the onset. Half the crypto rows are Stratum to
    // one pool address, half Bitcoin P2P to 4,096 peers.
    await db.run(
      `INSERT INTO flow_table
       SELECT i + 1, src.id, i, ${int(o.startMs)} + t, ${int(o.startMs)} + t + 1000 + (h % 60000)::BIGINT, 4,
              ${words(`${ip4(10, 0, 0, 1)}::UHUGEINT + ${host}::UHUGEINT`)},
              ${words(`CASE WHEN crypto AND h % 8 < 4 THEN ${ip4(52, 31, 186, 94)}::UHUGEINT
                   WHEN crypto THEN ${ip4(93, 184, 0, 0)}::UHUGEINT + (h % 4096)::UHUGEINT
                   ELSE ${ip4(151, 101, 0, 0)}::UHUGEINT + (h % 65536)::UHUGEINT END`)},
              (1024 + h % 60000)::USMALLINT,
              (CASE WHEN crypto AND h % 8 < 4 THEN 3333 WHEN crypto THEN 8333 WHEN h % 3 = 0 THEN 53 ELSE 443 END)::USMALLINT,
              (CASE WHEN NOT crypto AND h % 3 = 0 THEN 17 ELSE 6 END)::UTINYINT,
              1 + h % 40, 60 + h % 40000, 1 + h % 30, 60 + h % 30000,
              27, 1, '127.0.0.1', 0,
              ${list(SYNTHETIC_COUNTRIES)}[1 + ${host} % 8],
              CASE WHEN crypto AND h % 8 < 4 THEN 'IE' ELSE 'US' END,
              ${list(ASNS)}[1 + ${host} % 8], 16509,
              CASE WHEN ${host} % 8 = 0 THEN 'kp' ELSE '' END, '',
              '', NULL, 0, NULL, NULL, NULL, NULL -- no tunnel
       FROM (SELECT i, h, crypto,
                    CASE WHEN crypto THEN ${int(onsetMs)} + (h % ${int(span - onsetMs)})::BIGINT
                         ELSE (h % ${int(span)})::BIGINT END AS t
             FROM (SELECT range AS i, hash(range) AS h, (range // ${int(o.hosts)}) % 4 = 0 AS crypto FROM range(${int(o.flows)}))),
            (SELECT max(id) AS id FROM sources) src`,
    );
    // Rows written behind the store's back: its hourly rollup is made for them, as a store from
    // before rollups gets one on open.
    await Rollup.rebuild(db, o.flows);
    await db.run('CHECKPOINT');
  } finally {
    await store.db.close();
  }
  return performance.now() - t0;
}
