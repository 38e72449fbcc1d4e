// The ClickHouse engine against the DuckDB one: the same captures ingested (twice: a re-ingest
// replaces) into DuckDB, into Debian's clickhouse-server 18.16 started here on loopback, and into
// chDB (a current ClickHouse in this process) give the same summary, keyed summaries, flows,
// sources and payload samples. And the password of a clickhouse:// URL never shows in a message.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import { ingestFile } from '../../src/flow/ingest.js';
import type { FlowBatch } from '../../src/flow/record.js';
import { openFlowStore } from '../../src/store/open.js';
import { SUMMARY_KEYS, type FlowStore } from '../../src/store/store.js';
import { redact } from '../../src/store/clickhouse/connection.js';
import { schemaStatements } from '../../src/store/clickhouse/schema.js';
import { PASSWORD, haveChdb, haveServer, startServer, type RunningServer } from './clickhouse-server.js';

const FILES = [
  'test/fixtures/pcap/ndpi/monero.pcap',
  'test/fixtures/pcap/ndpi/mining.pcapng',
  'test/fixtures/pcap/ndpi/bitcoin.pcap',
  // 1,059 flows, 14 of them IPv6: addresses stored as 16 bytes and printed as DuckDB prints them.
  'test/fixtures/pcap/ndpi/gnutella.pcap',
];
const enricher = { enrich: (b: FlowBatch) => emptyEnrichment(b.length) };

/** Everything the read side gives, as one comparable value. */
async function contents(store: FlowStore): Promise<unknown> {
  const flows = await store.flows({});
  const payloads = await store.payloads(flows.map((f) => f.id));
  return {
    summary: await store.summary({ top: 10 }),
    filtered: await store.summary({ top: 3, where: "proto = 6 AND src <> ''" }),
    keyed: [...(await store.summarize({ by: [...SUMMARY_KEYS], top: 5 }))],
    byFlows: [...(await store.summarize({ by: ['dport', 'src'], top: 4, order: 'flows' }))],
    flows,
    v6: flows.filter((f) => f.ip_version === 6).length,
    where: await store.flows({ where: 'dst_port = 18080', limit: 2 }),
    sources: (await store.sources()).map((s) => ({ ...s, ingestedAt: typeof s.ingestedAt })),
    payloads: [...payloads]
      .sort((a, b) => a[0] - b[0])
      .map(([id, p]) => [
        id,
        p.fwd?.toString('hex'),
        p.rev?.toString('hex'),
        p.fwdTimes?.toString('hex'),
        p.revTimes?.toString('hex'),
      ]),
  };
}

async function ingestAll(db: string): Promise<unknown> {
  const store = await openFlowStore(db);
  try {
    for (const f of FILES) await ingestFile(f, { store, enricher });
    // The same bytes again: they replace their first copy.
    await ingestFile(FILES[0], { store, enricher });
    return await contents(store);
  } finally {
    await store.close();
  }
}

const expected: Promise<unknown> = ingestAll(':memory:');
let server: RunningServer | null = null;
const tmp = mkdtempSync(join(tmpdir(), 'coinradar-chdb-'));
after(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test(
  'clickhouse-server 18.16 holds and answers what DuckDB does',
  {
    skip: !haveServer() && 'clickhouse-server not installed (scripts/install-test-deps.sh)',
    timeout: 120_000,
  },
  async () => {
    server = await startServer();
    const want = await expected;
    assert.ok((want as { v6: number }).v6 > 0, 'IPv6 flows among them');
    assert.deepEqual(await ingestAll(server.url), want);
    // Opened again and every file ingested again: each replaces its copy, nothing counts twice
    // (the ids are new ones, after the largest stored).
    const again = (await ingestAll(server.url)) as typeof want;
    const w = want as { summary: unknown; keyed: unknown; sources: unknown[]; flows: { id: number }[] };
    const a = again as typeof w;
    assert.deepEqual([a.summary, a.keyed, a.sources.length], [w.summary, w.keyed, w.sources.length]);
    assert.ok(Math.min(...a.flows.map((f) => f.id)) > Math.max(...w.flows.map((f) => f.id)));
  },
);

test('chDB (a current ClickHouse) holds and answers what DuckDB does', { timeout: 120_000 }, async (t) => {
  const missing = await haveChdb();
  if (missing) return t.skip(`chdb cannot load here: ${missing}`);
  const want = await expected;
  assert.deepEqual(await ingestAll(`chdb:${join(tmp, 'a')}`), want);
});

test(
  'the password of a clickhouse:// URL is never printed',
  { skip: !haveServer() && 'clickhouse-server not installed', timeout: 60_000 },
  async () => {
    assert.equal(redact('clickhouse://coin:secret@h:8123/db'), 'clickhouse://coin:***@h:8123/db');
    server ??= await startServer();
    const wrong = server.url.replace(encodeURIComponent(PASSWORD), encodeURIComponent(`${PASSWORD}x`));
    await assert.rejects(openFlowStore(wrong), (e: Error) => {
      assert.ok(
        !e.message.includes(PASSWORD) && !e.message.includes(encodeURIComponent(PASSWORD)),
        e.message,
      );
      assert.match(e.message, /coin:\*\*\*@127\.0\.0\.1/);
      return true;
    });
    const store = await openFlowStore(server.url);
    try {
      await assert.rejects(store.flows({ where: 'no_such_column = 1' }), (e: Error) => {
        assert.ok(
          !e.message.includes(PASSWORD) && !e.message.includes(encodeURIComponent(PASSWORD)),
          e.message,
        );
        return true;
      });
    } finally {
      await store.close();
    }
  },
);

test('the schema follows the server: LowCardinality from 19, TTL from 19.6', () => {
  const old = schemaStatements('18.16.1').join('\n');
  assert.ok(!old.includes('LowCardinality') && !old.includes('TTL'));
  assert.match(old, /PARTITION BY toYYYYMMDD/);
  const cur = schemaStatements('26.7.2.1', { ttlDays: 30 }).join('\n');
  assert.match(cur, /src_country LowCardinality\(String\)/);
  assert.match(cur, /TTL toDateTime\(intDiv\(first_ms, 1000\), 'UTC'\) \+ INTERVAL 30 DAY/);
  assert.throws(() => schemaStatements('18.16.1', { ttlDays: 30 }), /no TTL/);
});
