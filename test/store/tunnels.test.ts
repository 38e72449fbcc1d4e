/**
 * The tunnel context columns of the DuckDB flow store (tunnel, tunnel_id, outer_ip_version,
 * outer_src_ip, outer_dst_ip; text through flows.sql's ip_text): written from a
 * FlowBatch, read back, NULL/'' for flows without a tunnel, constant for live segments, and added
 * in place to a store written before them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import { FlowBatch, type FlowRecord } from '../../src/flow/record.js';
import { flowRecord } from '../detect/flow-record.js';
import { DuckDbFlowStore, ipValue } from '../../src/store/duckdb/flows.js';

function flow(i: number, over: Partial<FlowRecord> = {}): FlowRecord {
  return flowRecord({ firstMs: Date.UTC(2017, 4, 17, 0, 0, i), src: `10.0.0.${i}`, position: i, ...over });
}

const GTP = { tunnel: 'gtp-u', tunnelId: 0xdeadbeef, outerSrc: '192.0.2.1', outerDst: '192.0.2.2' };
const VX6 = { tunnel: 'vxlan', tunnelId: 4242, outerSrc: '2001:db8::1', outerDst: '2001:db8::2' };
const GRE = { tunnel: 'gre', tunnelId: null, outerSrc: '198.51.100.1', outerDst: '198.51.100.2' };

interface Row {
  id: number;
  tunnel: string;
  tunnel_id: number | null;
  outer_src: string | null;
  outer_dst: string | null;
  outer_ip_version: number;
}

async function tunnelRows(store: DuckDbFlowStore): Promise<Row[]> {
  return store.db.all<Row>(
    `SELECT id, tunnel, tunnel_id, outer_ip_version,
            CASE WHEN outer_ip_version > 0 THEN ip_text(outer_src_ip, outer_ip_version) END AS outer_src,
            CASE WHEN outer_ip_version > 0 THEN ip_text(outer_dst_ip, outer_ip_version) END AS outer_dst
     FROM flows ORDER BY id`,
  );
}

async function appendFile(store: DuckDbFlowStore, name: string, recs: FlowRecord[]): Promise<void> {
  const w = await store.beginSource({ name, kind: 'pcap' });
  const b = new FlowBatch(recs.length);
  for (const r of recs) b.pushRecord(r);
  await w.append(b, emptyEnrichment(b.length));
  await w.commit(new Diagnostics());
}

test('tunnel context is stored and read back: kind, id, outer addresses (IPv4, IPv6), none for plain flows', async () => {
  const store = await DuckDbFlowStore.open(':memory:');
  try {
    await appendFile(store, 'a.pcap', [flow(1, GTP), flow(2), flow(3, VX6), flow(4, GRE)]);
    assert.deepEqual(
      (await tunnelRows(store)).map((r) => ({
        ...r,
        tunnel_id: r.tunnel_id === null ? null : Number(r.tunnel_id),
      })),
      [
        {
          id: 1,
          tunnel: 'gtp-u',
          tunnel_id: 0xdeadbeef,
          outer_src: '192.0.2.1',
          outer_dst: '192.0.2.2',
          outer_ip_version: 4,
        },
        { id: 2, tunnel: '', tunnel_id: null, outer_src: null, outer_dst: null, outer_ip_version: 0 },
        {
          id: 3,
          tunnel: 'vxlan',
          tunnel_id: 4242,
          outer_src: '2001:db8::1',
          outer_dst: '2001:db8::2',
          outer_ip_version: 6,
        },
        {
          id: 4,
          tunnel: 'gre',
          tunnel_id: null,
          outer_src: '198.51.100.1',
          outer_dst: '198.51.100.2',
          outer_ip_version: 4,
        },
      ],
    );
    // The integer form is the one the address columns use (IPv4 as ::ffff:a.b.c.d).
    const [r] = await store.db.all<{ ok: boolean }>(
      `SELECT outer_src_ip = ${ipValue('192.0.2.1')} AS ok FROM flows WHERE id = 1`,
    );
    assert.equal(r.ok, true);
    // --where speaks the new columns.
    const hits = await store.flows({ where: "tunnel = 'gtp-u' AND tunnel_id = 3735928559" });
    assert.deepEqual(
      hits.map((h) => h.id),
      [1],
    );
  } finally {
    await store.close();
  }
});

test('a store written before tunnel columns (and with 128-bit address columns) is migrated in place on open: old flows keep their addresses and have no tunnel, new ones do, live segments join', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-tunnels-'));
  try {
    const path = join(dir, 'old.duckdb');
    // The schema as the version before tunnels wrote it (its flows.sql, kept as a fixture).
    const inst = await DuckDBInstance.create(path);
    const conn = await inst.connect();
    await conn.run(
      readFileSync(new URL('../fixtures/store/flows-before-tunnels.sql', import.meta.url), 'utf8'),
    );
    await conn.run(
      "INSERT INTO sources VALUES (nextval('source_id_seq'), 'old.pcap', 'pcap', 'fp', now(), 1, true, NULL)",
    );
    await conn.run(`INSERT INTO flow_table VALUES
      (1, 1, 0, 1494979200000, 1494979201000, 4, ${ipValue('175.45.176.1')}, ${ipValue('1.2.3.4')}, 50000, 3333, 6, 10, 1000, 9, 900, 27, 1, '', 0, 'KP', 'AU', 131279, 0, 'kp', '')`);
    const [before] = await (
      await conn.runAndReadAll(
        "SELECT count(*)::INTEGER AS n FROM information_schema.columns WHERE table_name = 'flow_table' AND column_name = 'tunnel'",
      )
    ).getRowObjects();
    assert.equal(before.n, 0, 'the fixture is a store without the columns');
    conn.closeSync();
    inst.closeSync();

    const store = await DuckDbFlowStore.open(path);
    await appendFile(store, 'new.pcap', [flow(2, GTP)]);
    const live = await store.beginSource({ name: 'live', kind: 'netflow' }, { live: true });
    const b = new FlowBatch(1);
    b.pushRecord(flow(3));
    await live.append(b, emptyEnrichment(1));
    await live.commit(new Diagnostics());
    const rows = await tunnelRows(store);
    assert.deepEqual(
      rows.map((r) => [r.id, r.tunnel, r.outer_src, r.outer_ip_version]),
      [
        [1, '', null, 0],
        [2, 'gtp-u', '192.0.2.1', 4],
        [3, '', null, 0],
      ],
    );
    // The old flow's addresses survive the rewrite into two words a column.
    assert.deepEqual(
      await store.db.all('SELECT src, dst, src_port, dst_port, src_country FROM flows WHERE id = 1'),
      [{ src: '175.45.176.1', dst: '1.2.3.4', src_port: 50000, dst_port: 3333, src_country: 'KP' }],
    );
    const cols = await store.db.all<{ c: string }>(
      "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'flow_table' AND column_name LIKE '%ip%' ORDER BY ordinal_position",
    );
    assert.deepEqual(
      cols.map((r) => r.c),
      [
        'ip_version',
        'src_ip_hi',
        'src_ip_lo',
        'dst_ip_hi',
        'dst_ip_lo',
        'outer_ip_version',
        'outer_src_ip_hi',
        'outer_src_ip_lo',
        'outer_dst_ip_hi',
        'outer_dst_ip_lo',
      ],
    );
    await store.close();
    // Opened again: nothing to migrate, the same rows.
    const again = await DuckDbFlowStore.open(path);
    assert.deepEqual(
      (await tunnelRows(again)).map((r) => r.tunnel),
      ['', 'gtp-u', ''],
    );
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
