/**
 * Flow store write rate: FlowBatch → DuckDB through the FlowStore interface (appender), flows/s.
 * Peer: DuckDB's own `INSERT ... SELECT FROM read_csv` of the same rows (the fastest bulk path
 * DuckDB offers, excluding writing the CSV), measured in the same run.
 * Usage: node --import tsx bench/store.ts [flows=500000]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { emptyEnrichment } from '../src/flow/enrichment.js';
import { FlowBatch } from '../src/flow/record.js';
import { openFlowStore } from '../src/store/open.js';

const N = Number(process.argv[2] ?? 500_000);
const BATCH = 4096;

function makeBatch(start: number, n: number): FlowBatch {
  const b = new FlowBatch(n, 'bench');
  for (let k = 0; k < n; k++) {
    const i = b.push();
    const x = start + k;
    b.firstMs[i] = 1494979200000 + x;
    b.lastMs[i] = 1494979200000 + x + 5000;
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
    b.dstPort[i] = x % 7 === 0 ? 8333 : 443;
    b.proto[i] = 6;
    b.packets[i] = 10 + (x % 50);
    b.bytes[i] = 1000 + (x % 5000);
    b.tcpFlags[i] = 0x1b;
  }
  return b;
}

const dir = mkdtempSync(join(tmpdir(), 'cr-bench-store-'));
try {
  const batches: FlowBatch[] = [];
  for (let s = 0; s < N; s += BATCH) batches.push(makeBatch(s, Math.min(BATCH, N - s)));
  const enrich = batches.map((b) => {
    const e = emptyEnrichment(b.length);
    e.srcCountry.fill('KP');
    e.dstCountry.fill('US');
    e.srcAsn.fill(131279);
    e.dstAsn.fill(15169);
    return e;
  });

  const store = await openFlowStore(join(dir, 'a.duckdb'));
  let t0 = performance.now();
  const w = await store.beginSource({ name: 'bench', kind: 'bench', fingerprint: 'x' });
  for (let k = 0; k < batches.length; k++) await w.append(batches[k], enrich[k]);
  await w.commit(new Diagnostics());
  const ours = (performance.now() - t0) / 1000;
  await store.close();

  // Peer: the same rows as CSV, loaded by DuckDB itself.
  const csv = join(dir, 'flows.csv');
  const lines: string[] = [];
  for (const b of batches)
    for (let i = 0; i < b.length; i++)
      lines.push(
        `${b.firstMs[i]},${b.lastMs[i]},${b.srcText(i)},${b.dstText(i)},${b.srcPort[i]},${b.dstPort[i]},6,${b.packets[i]},${b.bytes[i]},KP,US,131279,15169`,
      );
  writeFileSync(csv, lines.join('\n') + '\n');
  const inst = await DuckDBInstance.create(join(dir, 'b.duckdb'));
  const c = await inst.connect();
  await c.run(
    'CREATE TABLE f (first_ms BIGINT, last_ms BIGINT, src VARCHAR, dst VARCHAR, src_port USMALLINT, dst_port USMALLINT, proto UTINYINT, packets DOUBLE, bytes DOUBLE, src_country VARCHAR, dst_country VARCHAR, src_asn UINTEGER, dst_asn UINTEGER)',
  );
  t0 = performance.now();
  await c.run(`INSERT INTO f SELECT * FROM read_csv('${csv}', header = false, auto_detect = false, columns = {
    'a': 'BIGINT', 'b': 'BIGINT', 'c': 'VARCHAR', 'd': 'VARCHAR', 'e': 'USMALLINT', 'f': 'USMALLINT', 'g': 'UTINYINT',
    'h': 'DOUBLE', 'i': 'DOUBLE', 'j': 'VARCHAR', 'k': 'VARCHAR', 'l': 'UINTEGER', 'm': 'UINTEGER'})`);
  const peer = (performance.now() - t0) / 1000;
  c.closeSync();
  inst.closeSync();
  console.log(`flows: ${N}`);
  console.log(
    `coinradar FlowStore.append (DuckDB appender): ${(N / ours).toFixed(0)} flows/s (${ours.toFixed(2)} s)`,
  );
  console.log(
    `duckdb INSERT ... read_csv (peer, CSV already written): ${(N / peer).toFixed(0)} rows/s (${peer.toFixed(2)} s)`,
  );
  console.log(`ratio coinradar/peer: ${(peer / ours).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
