// The template flood of issue 10 against the live collector on loopback: IPFIX datagrams of 3,000
// templates each, under a new observation domain each, at about 300 datagrams/s for about 10 s,
// while another exporter (another source port on the same address) sends valid flows. With the
// decoder's default caps the process RSS stays under 1 GB and every valid flow is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetflowCollector } from '../../src/netflow/collector.js';
import { dataSet, encodeRecord, field, ipfixMessage, templateSet } from '../../src/netflow/encode.js';
import { IE } from '../../src/netflow/plan.js';
import { openFlowStore } from '../../src/store/open.js';
import { FLOW_FIELDS, floodMessage } from './shared.js';
import { sleep } from './peers.js';

const RATE = 300; // flood datagrams a second
const SECONDS = 10;
const VALID_EVERY_MS = 20;
const PER_VALID = 5;
const FIELDS = [...FLOW_FIELDS, field(IE.flowStartMilliseconds, 8), field(IE.flowEndMilliseconds, 8)];
const T0 = Date.UTC(2017, 4, 17);

function valid(k: number): Buffer {
  const recs = Array.from({ length: PER_VALID }, (_, r) =>
    encodeRecord(FIELDS, [
      '175.45.176.1',
      '8.8.8.8',
      (k * PER_VALID + r) % 65536,
      3333,
      6,
      1,
      60,
      T0 + k,
      T0 + k + 5,
    ]),
  );
  return ipfixMessage({ exportSecs: T0 / 1000 + 60, seq: k * PER_VALID, domain: 1 }, [
    templateSet(false, [{ id: 256, fields: FIELDS }]),
    dataSet(256, recs),
  ]);
}

function bound(port: number): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((res) => s.bind(0, '127.0.0.1', () => res(s))).then(() => {
    s.connect(port, '127.0.0.1');
    return new Promise<Socket>((res) => s.once('connect', () => res(s)));
  });
}

test(
  'template flood into the live collector: RSS under 1 GB, every valid flow of another exporter stored',
  { timeout: 30_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-flood-'));
    const store = await openFlowStore(join(dir, 'flows.duckdb'));
    let maxRss = 0;
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage().rss)), 50);
    try {
      const c = await NetflowCollector.start({ listen: 'udp://127.0.0.1:0', store, flushMs: 200 });
      const rssBefore = process.memoryUsage().rss;
      const flooder = await bound(c.port);
      const exporter = await bound(c.port);
      let floods = 0;
      let valids = 0;
      const t0 = performance.now();
      // Bounded in count and time: RATE x SECONDS flood datagrams, at most SECONDS + 2 s of sending.
      while (floods < RATE * SECONDS && performance.now() - t0 < (SECONDS + 2) * 1000) {
        const elapsed = performance.now() - t0;
        const due = Math.min(RATE * SECONDS, Math.floor((elapsed / 1000) * RATE) + 1);
        const waits: Promise<void>[] = [];
        while (floods < due) {
          const m = floodMessage(100_000 + floods); // a new observation domain each
          floods++;
          waits.push(new Promise((res, rej) => flooder.send(m, (e) => (e ? rej(e) : res()))));
        }
        while (valids < Math.floor(elapsed / VALID_EVERY_MS) + 1) {
          const m = valid(valids++);
          waits.push(new Promise((res, rej) => exporter.send(m, (e) => (e ? rej(e) : res()))));
        }
        await Promise.all(waits);
        await sleep(2);
      }
      const sendSeconds = (performance.now() - t0) / 1000;
      flooder.close();
      exporter.close();
      await sleep(300);
      const r = await c.stop();
      const [src] = await store.sources();
      const rssGrowth = maxRss - rssBefore;
      process.stdout.write(
        `# flood: ${floods} datagrams of 3,000 templates + ${valids} valid datagrams in ${sendSeconds.toFixed(1)} s; ` +
          `received ${r.datagrams}; max RSS ${(maxRss / 1e6).toFixed(0)} MB (+${(rssGrowth / 1e6).toFixed(0)} MB); ` +
          `stored ${src.flows} of ${valids * PER_VALID} valid flows; ` +
          `sessions.evicted ${r.diagnostics.get('sessions.evicted')}, templates.evicted ${r.diagnostics.get('templates.evicted')}\n`,
      );
      assert.ok(floods >= RATE * SECONDS * 0.8, `only ${floods} flood datagrams sent`);
      assert.ok(maxRss < 1e9, `RSS reached ${(maxRss / 1e6).toFixed(0)} MB`);
      assert.equal(src.flows, valids * PER_VALID, 'every valid flow stored');
      assert.ok(r.diagnostics.get('sessions.evicted') > 0, 'the flood reached the domain cap');
      assert.ok(r.diagnostics.get('templates.evicted') > 0, 'and the template cap');
      assert.equal(r.diagnostics.get('records.missing'), 0, 'no sequence gap in the valid exporter');
    } finally {
      clearInterval(sampler);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
