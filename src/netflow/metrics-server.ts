/**
 * The live collector's metrics endpoint (`collect --metrics 127.0.0.1:9155`): GET /healthz (JSON)
 * and GET /metrics (Prometheus text format) with the counters, per-exporter figures, flows stored
 * and the time of the last commit. Read-only, no key: it binds loopback unless the operator says
 * otherwise (`--metrics-public`), since exporter addresses and loss figures describe the network.
 */
import { createServer, type Server } from 'node:http';
import type { CollectorMetrics } from './collector.js';

export interface MetricsAddress {
  host: string;
  port: number;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

/** `HOST:PORT` or `[IPv6]:PORT`; a non-loopback host only with `allowPublic`. */
export function parseMetricsAddress(text: string, allowPublic = false): MetricsAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+|localhost)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) > 65535)
    throw new Error(`--metrics wants HOST:PORT or [IPv6]:PORT, got ${JSON.stringify(text)}`);
  const host = m[1] ?? (m[2] === 'localhost' ? '127.0.0.1' : m[2]);
  if (!LOOPBACK.test(host) && !allowPublic)
    throw new Error(
      `--metrics ${text}: not a loopback address; the endpoint has no authentication, so binding it elsewhere needs --metrics-public`,
    );
  return { host, port: Number(m[3]) };
}

/** Prometheus names: coinradar_collector_<counter with [.-] as _>. */
function metricName(counter: string): string {
  return `coinradar_collector_${counter.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

const mb = (bytes: number) => Math.round(bytes / 1048576);

const label = (v: string | number) => JSON.stringify(String(v)); // quotes, backslashes, newlines escaped

const PER_EXPORTER = [
  ['datagrams', 'datagrams decoded'],
  ['records', 'flow records decoded'],
  ['missingDatagrams', 'datagrams missing by sequence number'],
  ['missingRecords', 'flow records missing by sequence number'],
  ['resets', 'exporter restarts seen'],
  ['late', 'late or reordered datagrams'],
  ['templates', 'templates held'],
  ['templatesEvicted', 'templates evicted'],
] as const;

/** The process's memory at a scrape (`process.memoryUsage()`: rss covers every thread; the rest is the main thread's V8 isolate). */
export interface ProcessMemory {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Counts that go down as well as up (the rest only grow). */
const GAUGE_COUNTS = new Set(['flows.held-store', 'spool.bytes']);

export function prometheusText(m: CollectorMetrics, mem?: ProcessMemory): string {
  const out: string[] = [];
  const gauge = (name: string, help: string, value: number) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
  if (mem) {
    // The standard name that Prometheus's own process collectors use, so dashboards find it.
    gauge('process_resident_memory_bytes', 'resident memory of the whole process, every thread', mem.rss);
    gauge('coinradar_collector_heap_used_bytes', "the main thread's JavaScript heap in use", mem.heapUsed);
    gauge(
      'coinradar_collector_heap_total_bytes',
      "the main thread's JavaScript heap reserved",
      mem.heapTotal,
    );
    gauge(
      'coinradar_collector_external_bytes',
      "memory outside the main thread's heap that it holds (buffers)",
      mem.external,
    );
  }
  gauge('coinradar_collector_flows_stored', 'flows appended to the store', m.flowsStored);
  gauge('coinradar_collector_flows_committed', 'flows committed (durable)', m.flowsCommitted);
  gauge('coinradar_collector_last_commit_seconds', 'unix time of the last commit', m.lastCommitMs / 1000);
  gauge('coinradar_collector_backlog_batches', 'batches received and not yet stored', m.backlogBatches);
  gauge(
    'coinradar_collector_store_failing',
    'the store failed and the open interval was rolled back (flows_lost_store); 0 again at the next commit',
    m.storeFailing ? 1 : 0,
  );
  for (const k of Object.keys(m.counts).sort()) {
    const name = metricName(k);
    // `flows.stored` is the gauge above: one name, one sample (Prometheus refuses a scrape that repeats one).
    if (name === 'coinradar_collector_flows_stored') continue;
    out.push(`# TYPE ${name} ${GAUGE_COUNTS.has(k) ? 'gauge' : 'counter'}`, `${name} ${m.counts[k]}`);
  }
  for (const [field, help] of PER_EXPORTER) {
    const name = `coinradar_exporter_${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
    out.push(`# HELP ${name} ${help}, per exporter session`, `# TYPE ${name} counter`);
    for (const e of m.exporters) {
      out.push(
        `${name}{exporter=${label(e.exporter)},port=${label(e.port)},version=${label(e.version)},domain=${label(e.domain)}} ${e[field]}`,
      );
    }
  }
  return `${out.join('\n')}\n`;
}

export function healthJson(
  m: CollectorMetrics,
  nowMs = Date.now(),
  mem?: ProcessMemory,
): Record<string, unknown> {
  return {
    // degraded: the store failed and the collector rolled the interval back and went on (its
    // flows counted in flows.lost-store); ok again at the next commit that succeeds.
    status: m.failed ? 'failed' : m.storeFailing ? 'degraded' : 'ok',
    ...(m.failed ? { error: m.failed } : m.storeFailing ? { error: m.storeFailing } : {}),
    source: m.source,
    uptimeSeconds: Math.round((nowMs - m.startedMs) / 1000),
    flowsStored: m.flowsStored,
    flowsCommitted: m.flowsCommitted,
    lastCommit: m.lastCommitMs ? new Date(m.lastCommitMs).toISOString() : null,
    backlogBatches: m.backlogBatches,
    datagramsMissing: m.counts['datagrams.missing'] ?? 0,
    recordsMissing: m.counts['records.missing'] ?? 0,
    counts: m.counts,
    storeError: m.storeError ?? null,
    ...(mem
      ? {
          memoryMB: {
            resident: mb(mem.rss),
            heapUsed: mb(mem.heapUsed),
            heapTotal: mb(mem.heapTotal),
            external: mb(mem.external),
            arrayBuffers: mb(mem.arrayBuffers),
          },
        }
      : {}),
    exporters: m.exporters,
  };
}

/** Listen; resolves with the server and the port it bound (0 asks for any free port). */
export async function startMetricsServer(
  addr: MetricsAddress,
  snapshot: () => CollectorMetrics,
): Promise<{ server: Server; port: number }> {
  // Timeouts are enforced on this interval (Node's default is 30 s, far past the ones below).
  const server = createServer({ connectionsCheckingInterval: 500 }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(405, 'application/json', JSON.stringify({ error: 'method-not-allowed' }));
    if (path === '/healthz')
      return send(
        200,
        'application/json',
        JSON.stringify(healthJson(snapshot(), Date.now(), process.memoryUsage())),
      );
    if (path === '/metrics')
      return send(200, 'text/plain; version=0.0.4', prometheusText(snapshot(), process.memoryUsage()));
    send(404, 'application/json', JSON.stringify({ error: 'not-found' }));
  });
  // A scraper that trickles its request gets no more than a few seconds of a socket.
  server.headersTimeout = 3000;
  server.requestTimeout = 5000;
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(addr.port, addr.host, () => {
      server.off('error', rej);
      res();
    });
  });
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : addr.port };
}
