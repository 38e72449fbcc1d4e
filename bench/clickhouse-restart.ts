/**
 * A ClickHouse server restarted under a live collector: Debian's clickhouse-server 18.16 on
 * loopback, a collector (detection on, no geo) writing to it at RATE flows/s of NetFlow v9, and
 * after WARM seconds the server is killed (SIGKILL, as a crash) and started again on the same data
 * DOWN seconds later. Said: what was sent, stored and counted lost, how long /healthz said
 * "degraded", and whether the store holds exactly what the source's row counts (each flow its own
 * source address). The peer: none runs here — nfcapd writes files, not ClickHouse; Akvorado puts
 * Kafka between its inlet and ClickHouse, so an outage shorter than Kafka's retention costs it
 * nothing (docs/benchmarks.md says so beside the figures).
 *
 * MODE `cut`: the server stays up and the network to it goes dead for DOWN seconds instead (a
 * loopback proxy that forwards nothing and answers no new connection, test/store/blackhole-proxy.ts);
 * TIMEOUT is the collector's --store-timeout in seconds (0: none, as before 2026-12-07).
 *
 *   node --import tsx bench/clickhouse-restart.ts [RATE=20000] [WARM=5] [DOWN=5] [AFTER=5] [MODE=restart|cut] [TIMEOUT=10]
 */
import { createSocket } from 'node:dgram';
import { detectionHookFor } from '../src/detect/pipeline.js';
import { emptyEnrichment } from '../src/flow/enrichment.js';
import type { FlowBatch } from '../src/flow/record.js';
import { NetflowCollector } from '../src/netflow/collector.js';
import { healthJson } from '../src/netflow/metrics-server.js';
import type { ClickHouseFlowStore } from '../src/store/clickhouse/flows.js';
import { openFlowStore } from '../src/store/open.js';
import { BlackHoleProxy } from '../test/store/blackhole-proxy.js';
import { haveServer, startServer } from '../test/store/clickhouse-server.js';
import { flowNumber, v9Datagram } from '../test/netflow/live-sender.js';
import { fmt, load, say, sleep } from './report.js';

const RATE = Number(process.argv[2] ?? 20_000);
const WARM = Number(process.argv[3] ?? 5);
const DOWN = Number(process.argv[4] ?? 5);
const AFTER = Number(process.argv[5] ?? 5);
const MODE = process.argv[6] ?? 'restart';
const TIMEOUT = Number(process.argv[7] ?? 10);
const PER = 30;
if (MODE !== 'restart' && MODE !== 'cut') throw new Error(`MODE must be restart or cut, not ${MODE}`);

if (!haveServer()) {
  say('clickhouse-restart bench: clickhouse-server not installed (scripts/install-test-deps.sh)');
  process.exit(0);
}
const server = await startServer();
const proxy = MODE === 'cut' ? await BlackHoleProxy.start(server.httpPort) : null;
const store = (await openFlowStore(
  proxy ? server.url.replace(`:${server.httpPort}/`, `:${proxy.port}/`) : server.url,
)) as ClickHouseFlowStore;
const detection = await detectionHookFor(store);
const said: string[] = [];
const c = await NetflowCollector.start({
  listen: 'udp://127.0.0.1:0',
  store,
  enricher: { enrich: (b: FlowBatch) => emptyEnrichment(b.length) },
  hooks: [detection.hook],
  onStoreFailure: (m) => said.push(m),
  storeTimeoutMs: TIMEOUT * 1000,
});
say(
  `clickhouse-restart bench: ${fmt(RATE)} flows/s; ${WARM} s, ${MODE === 'cut' ? `the network to the server cut ${DOWN} s (--store-timeout ${TIMEOUT})` : `server away ${DOWN} s`}, ${AFTER} s after; load ${load()}`,
);
const sock = createSocket('udp4');
let k = 0;
let sending = true;
const perTick = Math.max(1, Math.round(RATE / PER / 100));
const sender = (async () => {
  const t0 = Date.now();
  for (let tick = 0; sending; tick++) {
    for (let i = 0; i < perTick; i++, k++) sock.send(v9Datagram(0, k, PER, k), c.port, '127.0.0.1');
    await sleep(Math.max(0, t0 + (tick + 1) * 10 - Date.now()));
  }
})();
let degradedMs = 0;
let failed: string | null = null;
const watch = setInterval(() => {
  const h = healthJson(c.metrics());
  if (h.status === 'degraded') degradedMs += 100;
  if (h.status === 'failed') failed = String(h.error);
}, 100);
try {
  await sleep(WARM * 1000);
  const t0 = Date.now();
  if (proxy) {
    proxy.cut();
    let seen = -1;
    while (Date.now() - t0 < DOWN * 1000) {
      if (seen < 0 && c.metrics().storeFailing != null) seen = Date.now() - t0;
      await sleep(20);
    }
    proxy.restore();
    say(
      `  the failure seen ${seen < 0 ? 'not within the cut' : `${(seen / 1000).toFixed(1)} s after the cut`}`,
    );
  } else {
    await server.restart(DOWN * 1000);
    say(`  the server answered again ${((Date.now() - t0) / 1000).toFixed(1)} s after it was killed`);
  }
  await sleep(AFTER * 1000);
  sending = false;
  await sender;
  await sleep(1000);
  clearInterval(watch);
  const sent = k * PER;
  const m = c.metrics();
  say(
    `  when sending ended: ${fmt(m.flowsCommitted)} flows committed, ${fmt(m.counts['flows.held-store'] ?? 0)} held, ${fmt(m.counts['datagrams.dropped-backlog'] ?? 0)} datagrams dropped at the receiver; store failing: ${m.storeFailing ?? 'no'}`,
  );
  // With no bound a request to a server cut off waits the client's 10 minutes: not waited for.
  const stopped = await Promise.race([c.stop(), sleep(60_000).then(() => null)]);
  if (!stopped) {
    say('  the collector did not stop within 60 s (its store request still waits); ended here');
    process.exit(1);
  }
  const r = stopped;
  const lost = r.diagnostics.get('flows.lost-store');
  say(
    `  sent ${fmt(sent)}; stored ${fmt(r.flows)} (of them held in memory while the server was away: ${fmt(r.diagnostics.get('flows.held-stored'))}); counted lost with failed intervals ${fmt(lost)} (${r.diagnostics.get('store.intervals-failed')} interval(s)); sent − stored − lost = ${fmt(sent - r.flows - lost)}`,
  );
  say(
    `  datagrams dropped at the receiver (counted): ${fmt(r.diagnostics.get('datagrams.dropped-backlog'))} with the store behind (backlog), ${fmt(r.diagnostics.get('datagrams.kernel-drops'))} by the kernel (${PER} flows each)`,
  );
  say(`  /healthz "degraded" for ~${(degradedMs / 1000).toFixed(1)} s; stopped: ${failed ?? 'no'}`);
  const rows = await store.conn.rows<{ n: number; u: number }>(
    'SELECT count() AS n, uniqExact(id) AS u FROM flow_table',
  );
  const [src] = await store.sources();
  say(
    `  in the store: ${fmt(Number(rows[0].n))} flow rows (${fmt(Number(rows[0].u))} distinct ids); the source's row counts ${fmt(src.flows)}`,
  );
  const sample = await store.flows({ limit: 5, orderBy: 'f.id DESC' });
  say(`  last flows stored: ${sample.map((f) => flowNumber(f.src)).join(', ')} (of 0 … ${fmt(sent - 1)})`);
  for (const m of said) say(`  said: ${m.slice(0, 220)}`);
  say(`  load ${load()}`);
} finally {
  clearInterval(watch);
  sending = false;
  sock.close();
  await store.close().catch(() => undefined);
  await proxy?.stop();
  await server.stop();
}
