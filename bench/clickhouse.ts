/**
 * The ClickHouse engine against the DuckDB one on the same stream: insert rate through the
 * FlowStore interface (one source, batches of 4,096 flows), then the daily series and the top
 * ports (`summary --by dport --top 20`) over the stored flows, and bytes per stored flow. Engines:
 * a DuckDB file, Debian's clickhouse-server 18.16 started on loopback (its CPU read from /proc
 * beside ours), a two-shard cluster of two such servers (Distributed tables, inserts through
 * them: `cluster`), and chDB (a current ClickHouse in this process). Flows spread over 100 days.
 * Usage: node --import tsx bench/clickhouse.ts [flows=1000000] [engines=duckdb,server,cluster,chdb]
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { emptyEnrichment, type EnrichedColumns } from '../src/flow/enrichment.js';
import { FlowBatch } from '../src/flow/record.js';
import { ClickHouseFlowStore } from '../src/store/clickhouse/flows.js';
import { DuckDbFlowStore } from '../src/store/duckdb/flows.js';
import { DuckDbSeries } from '../src/store/duckdb/series.js';
import { openFlowStore } from '../src/store/open.js';
import type { FlowStore } from '../src/store/store.js';
import { withCluster } from '../src/store/clickhouse/connection.js';
import {
  haveServer,
  startCluster,
  startServer,
  type RunningCluster,
  type RunningServer,
} from '../test/store/clickhouse-server.js';

const N = Number(process.argv[2] ?? 1_000_000);
const ENGINES = (process.argv[3] ?? 'duckdb,server,chdb').split(',');
const BATCH = 4096;
const START = Date.UTC(2017, 3, 1);
const SPAN = 100 * 86400000;

/** The same flows for every engine, made batch by batch (50 M do not fit in memory at once). */
function makeBatch(b: FlowBatch, e: EnrichedColumns, start: number, n: number): void {
  b.clear();
  for (let k = 0; k < n; k++) {
    const i = b.push();
    const x = start + k;
    b.firstMs[i] = START + Math.floor((x / N) * SPAN);
    b.lastMs[i] = b.firstMs[i] + 5000;
    b.ipVersion[i] = 4;
    b.src[i * 16] = 175;
    b.src[i * 16 + 1] = 45;
    b.src[i * 16 + 2] = 176 + (x & 3);
    b.src[i * 16 + 3] = x & 255;
    b.dst[i * 16] = 8 + (x % 200);
    b.dst[i * 16 + 1] = (x >> 8) & 255;
    b.dst[i * 16 + 2] = (x >> 16) & 255;
    b.dst[i * 16 + 3] = x & 255;
    b.srcPort[i] = 1024 + (x % 60000);
    b.dstPort[i] = x % 7 === 0 ? 8333 : x % 11 === 0 ? 3333 : 443 + (x % 13);
    b.proto[i] = 6;
    b.packets[i] = 10 + (x % 50);
    b.bytes[i] = 1000 + (x % 5000);
    b.tcpFlags[i] = 0x1b;
    b.samplingRate[i] = 1;
  }
  e.srcCountry.fill('KP', 0, n);
  e.dstCountry.fill('US', 0, n);
  e.srcAsn.fill(131279, 0, n);
  e.dstAsn.fill(15169, 0, n);
}

/** CPU seconds of a process from /proc (user + system). */
function procCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const ourCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function best<T>(runs: number, f: () => Promise<T>): Promise<number> {
  let t = Infinity;
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    await f();
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return t;
}

const dir = mkdtempSync(join(tmpdir(), 'cr-bench-ch-'));
let server: RunningServer | null = null;
let cluster: RunningCluster | null = null;
try {
  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(`flows: ${N} over 100 days, batches of ${BATCH}`);
  const rows: string[] = [];
  for (const engine of ENGINES) {
    let db: string;
    if (engine === 'duckdb') db = join(dir, 'bench.duckdb');
    else if (engine === 'server') {
      if (!haveServer()) {
        console.log('server: clickhouse-server not installed, skipped');
        continue;
      }
      server = await startServer('bench');
      db = server.url;
    } else if (engine === 'cluster') {
      if (!haveServer()) {
        console.log('cluster: clickhouse-server not installed, skipped');
        continue;
      }
      cluster = await startCluster('two', 'bench');
      db = withCluster(cluster.url, 'two');
    } else if (engine === 'chdb') db = `chdb:${join(dir, 'chdb')}`;
    else throw new Error(`unknown engine ${engine}`);
    const store: FlowStore = await openFlowStore(db);
    const b = new FlowBatch(BATCH, 'bench');
    const e = emptyEnrichment(BATCH);
    const cpu0 = ourCpu();
    // The servers' CPU: the one server, or both of the cluster's.
    const pids =
      engine === 'server' && server
        ? [server.pid]
        : engine === 'cluster' && cluster
          ? cluster.servers.map((x) => x.pid)
          : [];
    const serverCpu = () => pids.reduce((a, pid) => a + procCpu(pid), 0);
    const srv0 = serverCpu();
    let t0 = performance.now();
    const w = await store.beginSource({ name: 'bench', kind: 'bench', fingerprint: 'bench' });
    for (let s = 0; s < N; s += BATCH) {
      makeBatch(b, e, s, Math.min(BATCH, N - s));
      await w.append(b, e);
    }
    await w.commit(new Diagnostics());
    const insert = (performance.now() - t0) / 1000;
    const ours = ourCpu() - cpu0;
    const srv = serverCpu() - srv0;
    t0 = performance.now();
    const series = await best(3, () => store.series({ bucket: 'day', scope: {} }));
    // DuckDB answers that series from its hourly rollup; the same over every flow, for the engines' sake.
    const scan =
      store instanceof DuckDbFlowStore
        ? await best(3, () => new DuckDbSeries(store.db, false).series({ bucket: 'day', scope: {} }))
        : null;
    const ports = await best(3, () => store.summarize({ by: ['dport'], top: 20 }));
    const check = await store.series({ bucket: 'day', scope: {} });
    const counted = check.buckets.reduce((a, x) => a + x.flows, 0);
    if (counted !== N) throw new Error(`${engine}: the series counts ${counted} flows, not ${N}`);
    let bytes: number;
    let spread = '';
    if (store instanceof ClickHouseFlowStore) {
      // On a cluster, each shard's local table (where the rows are; the Distributed table holds none).
      const table = store.cluster ? 'flow_table_local' : 'flow_table';
      const parts = await store.eachShard<{ b: number; n: number }>(
        `SELECT sum(bytes_on_disk) AS b, sum(rows) AS n FROM system.parts WHERE active AND database = currentDatabase() AND table = '${table}'`,
      );
      bytes = parts.reduce((a, [r]) => a + Number(r.b), 0);
      if (store.cluster) spread = `  rows per shard ${parts.map(([r]) => Number(r.n)).join(' / ')}`;
    } else {
      await store.close();
      bytes = statSync(db).size;
    }
    if (store instanceof ClickHouseFlowStore) await store.close();
    rows.push(
      `${engine.padEnd(7)} insert ${(N / insert).toFixed(0).padStart(8)} flows/s (${insert.toFixed(1)} s, CPU ${ours.toFixed(1)} s here${pids.length ? ` + ${srv.toFixed(1)} s server${pids.length > 1 ? 's' : ''}` : ''})  daily series ${series.toFixed(3)} s${scan === null ? '' : ` (rollup; over the flows ${scan.toFixed(3)} s)`}  top ports ${ports.toFixed(3)} s  ${(bytes / N).toFixed(1)} bytes/flow${spread}`,
    );
    console.log(rows[rows.length - 1]);
    if (engine === 'server') {
      await server?.stop();
      server = null;
    }
    if (engine === 'cluster') {
      await cluster?.stop();
      cluster = null;
    }
  }
} finally {
  await server?.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}
