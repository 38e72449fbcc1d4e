// `coinradar serve --collect` (issue 11): one process collects NetFlow into the store and serves the
// API and console over it. The API reads on its own connection, so it sees each commit (about a
// second) while the collector's transaction stays open; what arrived is all stored at the end.
// Loopback only; every wait bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer } from '../../src/cli/serve.js';
import { v5Packet, type V5Flow } from '../../src/netflow/encode.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { openFlowStore } from '../../src/store/open.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  'serve --collect: flows sent to the collector are in the API within 5 s, and all stored when it stops',
  { timeout: 120000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-serve-collect-'));
    const db = join(dir, 'live.duckdb');
    const { key } = new ApiKeyFile(keysPathFor(db)).create('analyst');
    const server = await openScreeningServer({
      db,
      rate: 0,
      audit: join(dir, 'audit.jsonl'),
      collect: 'udp://127.0.0.1:0',
    });
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
      const now = Math.floor(Date.now() / 1000);
      let sent = 0;
      for (let k = 0; k < 3; k++) {
        const flows: V5Flow[] = Array.from({ length: 30 }, (_, i) => ({
          src: `175.45.176.${1 + ((k * 30 + i) % 200)}`,
          dst: '198.51.100.7',
          srcPort: 40000 + k * 30 + i,
          dstPort: 3333,
          proto: 6,
          packets: 10,
          bytes: 1000,
          first: 1000,
          last: 2000,
          tcpFlags: 0x1b,
        }));
        const pkt = v5Packet({ sysUptime: 5000, unixSecs: now, seq: sent }, flows);
        await new Promise<void>((res, rej) =>
          sock.send(pkt, collector.port, '127.0.0.1', (e) => (e ? rej(e) : res())),
        );
        sent += flows.length;
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

test('serve --collect refuses --no-network (the store must be held open)', async () => {
  await assert.rejects(
    openScreeningServer({ db: ':memory:', network: false, collect: 'udp://127.0.0.1:0' }),
    /--collect needs the store held open/,
  );
});
