// `coinradar serve --collect` (issue 11): one process collects NetFlow into the store and serves the
// API and console over it. The API reads on its own connection, so it sees each commit (about a
// second) while the collector's transaction stays open; what arrived is all stored at the end.
// Loopback only; every wait bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestChain } from '../../src/chain/ingest.js';
import { openScreeningServer } from '../../src/cli/serve.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { DuckDbChainStore } from '../../src/store/duckdb/chain.js';
import { openFlowStore } from '../../src/store/open.js';
import { poolFlowsV5 } from '../helpers/v5-pool-flows.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A key for `db`, and serve on it collecting on a free loopback port (no rate limit). */
async function serveCollecting(dir: string, db: string) {
  const { key } = new ApiKeyFile(keysPathFor(db)).create('analyst');
  const server = await openScreeningServer({
    db,
    rate: 0,
    audit: join(dir, 'audit.jsonl'),
    collect: 'udp://127.0.0.1:0',
  });
  return { key, server };
}

/** 30 flows of batch `k` to port 3333 in one NetFlow v5 datagram. */
const pool3333 = (k: number, seq: number) => poolFlowsV5(30, k * 30, '198.51.100.7', seq);

test(
  'serve --collect: flows sent to the collector are in the API within 5 s, and all stored when it stops',
  { timeout: 120000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-serve-collect-'));
    const db = join(dir, 'live.duckdb');
    const { key, server } = await serveCollecting(dir, db);
    const sock = createSocket('udp4');
    try {
      const collector = server.collector!;
      assert.ok(collector && collector.port > 0, 'the collector is listening');
      const addr = await server.app.listen({ host: '127.0.0.1', port: 0 });
      const summary = async () => {
        const r = await fetch(`${addr}/v1/summary?by=dport&top=5`, {
          headers: { 'x-api-key': key },
          signal: AbortSignal.timeout(5000),
        });
        assert.equal(r.status, 200, await r.clone().text());
        const body = (await r.json()) as { tables: { dport: { key: string; flows: number }[] } };
        return body.tables.dport;
      };
      assert.deepEqual(await summary(), [], 'an empty store before anything is sent');
      // 3 batches of 30 flows to port 3333 (NetFlow v5), a second apart.
      let sent = 0;
      for (let k = 0; k < 3; k++) {
        const pkt = pool3333(k, sent);
        await new Promise<void>((res, rej) =>
          sock.send(pkt, collector.port, '127.0.0.1', (e) => (e ? rej(e) : res())),
        );
        sent += 30;
        await sleep(300);
      }
      const t0 = Date.now();
      let seen = 0;
      while (Date.now() - t0 < 5000) {
        const rows = await summary();
        seen = rows.find((r) => r.key === 'tcp/3333')?.flows ?? 0;
        if (seen === sent) break;
        await sleep(200);
      }
      assert.equal(seen, sent, `the API showed ${seen} of ${sent} flows within 5 s of the last send`);
      // The collector's health: with a key in full, in /healthz the status word only.
      const health = await fetch(`${addr}/v1/collector`, { headers: { 'x-api-key': key } });
      assert.equal(health.status, 200);
      const h = (await health.json()) as {
        collecting: boolean;
        status: string;
        source: string;
        flowsCommitted: number;
      };
      assert.equal(h.collecting, true);
      assert.equal(h.status, 'ok');
      assert.equal(h.source, collector.source);
      assert.equal(h.flowsCommitted, sent);
      assert.equal((await fetch(`${addr}/v1/collector`)).status, 401, 'not without a key');
      const hz = (await (await fetch(`${addr}/healthz`)).json()) as Record<string, unknown>;
      assert.equal(hz.collector, 'ok');
      const doc = (await (await fetch(`${addr}/openapi.json`)).json()) as { paths: Record<string, unknown> };
      assert.ok(doc.paths['/v1/collector'], 'the OpenAPI document names /v1/collector');
      // The network API kept reading on its own connection while the collector wrote.
      const host = await fetch(`${addr}/v1/hosts/175.45.176.1`, {
        headers: { 'x-api-key': key },
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(host.status, 200);
    } finally {
      sock.close();
      await server.close();
    }
    try {
      const store = await openFlowStore(db);
      try {
        const [src] = await store.sources();
        assert.equal(Number(src.flows), 90, 'every flow sent is stored');
        assert.equal(src.complete, true, 'the collector committed its source on stop');
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('serve without --collect: /v1/collector says it does not collect, and /healthz has no collector', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-serve-nocollect-'));
  const db = join(dir, 'plain.duckdb');
  const { key } = new ApiKeyFile(keysPathFor(db)).create('analyst');
  const server = await openScreeningServer({ db, rate: 0, audit: join(dir, 'audit.jsonl') });
  try {
    const r = await server.app.inject({ method: 'GET', url: '/v1/collector', headers: { 'x-api-key': key } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), { collecting: false });
    const hz = (await server.app.inject({ method: 'GET', url: '/healthz' })).json() as Record<
      string,
      unknown
    >;
    assert.equal('collector' in hz, false);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve --collect refuses --no-network (the store must be held open)', async () => {
  await assert.rejects(
    openScreeningServer({ db: ':memory:', network: false, collect: 'udp://127.0.0.1:0' }),
    /--collect needs the store held open/,
  );
});

test(
  'serve --collect on a store that holds a chain index: one database instance, the collector writes, the API and the money routes read beside it',
  { timeout: 120000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-serve-collect-chain-'));
    const db = join(dir, 'both.duckdb');
    try {
      // The chain index: block 413567 (1,557 transactions) from its raw bytes.
      const chain = await DuckDbChainStore.open(db);
      let address: string;
      try {
        const d = new Diagnostics();
        const raw = new URL('../fixtures/chain/block413567.raw', import.meta.url).pathname;
        await ingestChain(chain, undefined, { kind: 'raw', path: raw }, d);
        assert.equal(d.get('problems'), 0, d.summary());
        [{ address }] = await chain.db.all<{ address: string }>(
          'SELECT address FROM chain_addresses ORDER BY address_id LIMIT 1',
        );
      } finally {
        await chain.close();
      }
      const { key, server } = await serveCollecting(dir, db);
      const sock = createSocket('udp4');
      try {
        assert.match(server.summary, /chain index bitcoin to height 413567/);
        assert.match(server.summary, /collecting on udp:\/\/127\.0\.0\.1:\d+/);
        const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
        const get = async (path: string) => {
          const r = await fetch(base + path, {
            headers: { 'x-api-key': key },
            signal: AbortSignal.timeout(5000),
          });
          assert.equal(r.status, 200, `${path}: ${await r.clone().text()}`);
          return r.json() as Promise<Record<string, unknown>>;
        };
        for (let k = 0; k < 2; k++) {
          const pkt = pool3333(k, k * 30);
          await new Promise<void>((res, rej) =>
            sock.send(pkt, server.collector!.port, '127.0.0.1', (e) => (e ? rej(e) : res())),
          );
        }
        // The flows show on the network API (its own connection) within 5 s of the send ...
        const t0 = Date.now();
        let seen = 0;
        while (Date.now() - t0 < 5000) {
          const body = (await get('/v1/summary?by=dport&top=5')) as {
            tables: { dport: { key: string; flows: number }[] };
          };
          seen = body.tables.dport.find((r) => r.key === 'tcp/3333')?.flows ?? 0;
          if (seen === 60) break;
          await sleep(200);
        }
        assert.equal(seen, 60, `the API showed ${seen} of 60 flows within 5 s`);
        // ... while the money routes read the chain index on theirs, inside the open collector
        // transaction's lifetime.
        const a = (await get(`/v1/chain/address/${address}`)) as { address: { address: string } };
        assert.equal(a.address.address, address);
        const trace = (await get(`/v1/chain/trace?seed=${address}&direction=backward&hops=1`)) as {
          nodes: unknown[];
        };
        assert.ok(trace.nodes.length >= 1);
      } finally {
        sock.close();
        await server.close();
      }
      // Both are in the file afterwards: the collected flows and the untouched index.
      const store = await openFlowStore(db);
      try {
        const [src] = await store.sources();
        assert.equal(Number(src.flows), 60);
        assert.equal(src.complete, true);
      } finally {
        await store.close();
      }
      const again = await DuckDbChainStore.open(db);
      try {
        assert.equal((await again.state()).tipHeight, 413567);
      } finally {
        await again.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'the built `serve --collect` says on SIGINT what it received, stored and lost, as `collect` does',
  { timeout: 120000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-serve-collect-cli-'));
    const child = spawn(
      process.execPath,
      [
        'dist/cli/main.js',
        'serve',
        '--db',
        join(dir, 's.duckdb'),
        '--collect',
        'udp://127.0.0.1:0',
        '--port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += String(c)));
    child.stderr.on('data', (c) => (err += String(c)));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const sock = createSocket('udp4');
    try {
      const t0 = Date.now();
      let port = 0;
      while (!port && Date.now() - t0 < 60_000) {
        port = Number(/collecting on udp:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1] ?? 0);
        if (!port) await sleep(100);
      }
      assert.ok(port > 0, `serve said where it collects: ${err}`);
      for (let k = 0; k < 3; k++) {
        const pkt = pool3333(k, k * 30);
        await new Promise<void>((res, rej) => sock.send(pkt, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      }
      await sleep(1500);
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      assert.match(out, new RegExp(`udp://127\\.0\\.0\\.1:${port}: 3 datagrams, 90 flows stored`));
      assert.match(
        out,
        /exporter 127\.0\.0\.1:\d+ v5 domain 0: 3 datagrams, 90 records, 0 datagrams and 0 records missing/,
      );
    } finally {
      sock.close();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'the built `serve --collect`: a store that fails stops collecting, says so at once, the API goes on answering, exit 2',
  { timeout: 120000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-serve-collect-fail-'));
    const db = join(dir, 's.duckdb');
    const child = spawn(
      process.execPath,
      ['dist/cli/main.js', 'serve', '--db', db, '--collect', 'udp://127.0.0.1:0', '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (c) => (err += String(c)));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const sock = createSocket('udp4');
    const send = (k: number) =>
      new Promise<void>((res, rej) =>
        sock.send(pool3333(k, k * 30), port, '127.0.0.1', (e) => (e ? rej(e) : res())),
      );
    let port = 0;
    try {
      const t0 = Date.now();
      while (!(port && /coinradar serve: http/.test(err)) && Date.now() - t0 < 60_000) {
        port = Number(/collecting on udp:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1] ?? 0);
        await sleep(100);
      }
      const api = /coinradar serve: (http:\/\/[^,\s]+)/.exec(err)?.[1];
      assert.ok(port > 0 && api, `serve said where it listens and collects: ${err}`);
      await send(0);
      await sleep(1500);
      rmSync(`${db}.segments`, { recursive: true, force: true });
      await send(1);
      for (let k = 0; k < 100 && !/collecting stopped/.test(err); k++) await sleep(100);
      assert.match(
        err,
        /coinradar serve: collecting stopped: storing failed, collection stopped: .*\(30 flows committed before it; 30 received since were not kept\); the API still answers from what was committed/,
      );
      assert.equal((await fetch(`${api}/healthz`)).status, 200, 'the API still answers');
      child.kill('SIGINT');
      assert.equal(await exited, 2);
      assert.match(err, /coinradar serve: collecting had failed: storing failed/);
      assert.doesNotMatch(err, /Node\.js v\d|Unhandled/);
    } finally {
      sock.close();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
