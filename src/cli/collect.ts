import type { Command } from 'commander';
import { detectionHookFor } from '../detect/pipeline.js';
import { formatProblem } from '../flow/diagnostics.js';
import {
  DEFAULT_BACKLOG_MS,
  DEFAULT_MAX_BACKLOG_BATCHES,
  NetflowCollector,
  type CollectResult,
} from '../netflow/collector.js';
import { lateHook, lateStore, type LateStore } from '../netflow/late-store.js';
import { isUnreachable } from '../store/passing-failures.js';
import { withStoreTimeout } from '../store/request-timeout.js';
import { join } from 'node:path';
import { parseExporterList } from '../netflow/exporter-filter.js';
import { parseMetricsAddress, startMetricsServer } from '../netflow/metrics-server.js';
import { redact } from '../store/clickhouse/connection.js';
import { openFlowStore } from '../store/open.js';
import { parseMemoryLimit, serviceMemoryLimit } from '../store/duckdb/database.js';
import { defaultDbPath, type FlowStore } from '../store/store.js';
import { loadEnricher } from './enricher.js';
import { parseSpoolSize, parseStoreBuffer } from '../flow/size.js';
import { parseNumberOption, parseWholeNumber } from './output.js';

/** The decoder caps the CLI sets, by flag (the decoder documents their defaults). */
const CAP_FLAGS = [
  ['maxExporters', '--max-exporters'],
  ['maxDomains', '--max-domains'],
  ['maxTemplates', '--max-templates'],
] as const;
const CAP_OPTION: Record<(typeof CAP_FLAGS)[number][0], string> = {
  maxExporters: 'maxExporters',
  maxDomains: 'maxDomainsPerExporter',
  maxTemplates: 'maxTemplatesPerSession',
};

/** Loss and refusals, in words, for the summary line (only the ones that happened). */
export function lossWords(d: CollectResult['diagnostics']): string[] {
  const words: [string, string][] = [
    ['datagrams.missing', 'datagrams missing by sequence number'],
    ['records.missing', 'flow records missing by sequence number'],
    ['datagrams.kernel-drops', 'datagrams dropped by the kernel (receive buffer full)'],
    ['datagrams.dropped-backlog', 'datagrams dropped because the store was behind'],
    ['datagrams.refused-exporter', 'datagrams from exporters outside --exporters refused'],
    [
      'flows.lost-store',
      'flows lost with commit intervals the store failed (rolled back, collecting went on)',
    ],
    ['flows.held-stored', 'flows held while the store failed and stored once it wrote again'],
    ['flows.spool-stored', 'flows a collector before this one left in the spool, stored'],
  ];
  return words.filter(([k]) => d.get(k) > 0).map(([k, w]) => `${d.get(k)} ${w}`);
}

/**
 * What a collector received, stored and lost — every loss counted and named — with a line per
 * exporter: printed when `collect` (or `serve --collect`) stops.
 */
export function collectSummary(r: CollectResult, detections?: string): string {
  const d = r.diagnostics;
  const loss = lossWords(d);
  let out =
    `${r.source}: ${r.datagrams} datagrams, ${r.flows} flows stored` +
    `${d.get('problems') ? `, ${d.get('problems')} problems` : ''}` +
    `${loss.length ? `, ${loss.join(', ')}` : ''} (${d.summary()})\n`;
  if (detections !== undefined) out += `detections: ${detections}\n`;
  if (d.get('rollup.merges-failed') || d.get('rollup.hours-skipped'))
    out +=
      `store: ${d.get('rollup.merges-failed')} roll-ups or merges of the rollup failed, ${d.get('rollup.hours-skipped')} hours left unmerged ` +
      `(every flow is still counted; readers add up more)` +
      `${d.details.storeError ? `; last error: ${String(d.details.storeError)}` : ''}\n`;
  for (const [exp, rate] of Object.entries(r.samplingByExporter)) {
    if (rate > 1) out += `  exporter ${exp}: sampling 1:${rate}\n`;
  }
  for (const e of r.exporters) {
    out +=
      `  exporter ${e.exporter}:${e.port} v${e.version} domain ${e.domain}: ${e.datagrams} datagrams, ` +
      `${e.records} records, ${e.missingDatagrams} datagrams and ${e.missingRecords} records missing by sequence number, ` +
      `${e.resets} restarts, ${e.late} late, ${e.templates} templates (${e.templatesEvicted} evicted)\n`;
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('collect')
    .description(
      'receive NetFlow v5/v9, IPFIX and sFlow v5 on a UDP socket and store the flows (Ctrl-C stops and commits)',
    )
    .requiredOption('--listen <url>', 'udp://127.0.0.1:2055 or udp://[::1]:2055')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--max-datagrams <n>', 'stop after this many datagrams')
    .option('--recv-buffer <bytes>', 'socket receive buffer to ask the kernel for', String(32 * 1024 * 1024))
    // Off by default since stores write segments: at nice 10 the (now cheap) storing thread lost the
    // CPU to every other process, and a busy core cost 5–10 % of a 300 k flows/s stream where
    // "off" lost none (docs/benchmarks.md).
    .option(
      '--store-nice <n>',
      'nice value (0–19) for the storing thread, so that under CPU pressure receiving wins over storing ("off": unchanged)',
      'off',
    )
    .option('--exporters <cidrs>', 'decode only datagrams from these CIDR blocks, IPv4/IPv6 (CIDR[,CIDR…])')
    .option('--max-exporters <n>', 'exporter addresses with decoder state at once (decoder default)')
    .option('--max-domains <n>', 'observation domains / source ids per exporter (decoder default)')
    .option('--max-templates <n>', 'templates per exporter session (decoder default)')
    .option(
      '--max-backlog <batches>',
      'batches of 4096 flows received and not yet stored; past this, datagrams are dropped and counted',
      String(DEFAULT_MAX_BACKLOG_BATCHES),
    )
    .option(
      '--max-backlog-ms <ms>',
      '…and no more than the store writes in this long at its measured rate; above 500 the 2 s crash-loss promise no longer holds',
      String(DEFAULT_BACKLOG_MS),
    )
    .option(
      '--store-memory <size>',
      "DuckDB's memory limit in this process, reads through it included, e.g. 512M (default: a quarter of RAM, 256M to 1G); past it a query spills to FILE.tmp or fails",
    )
    .option(
      '--store-buffer <size>',
      'flows that arrive while the store fails (disk full, ClickHouse away) are held in memory up to this size and stored once it writes again; past it they are lost and counted (0: hold nothing)',
      '256M',
    )
    .option(
      '--store-timeout <seconds>',
      "each request to the store's server (ClickHouse) is given up on after this many seconds and the server counted out of reach: a server the network cut off is noticed, not waited on for the client's 10 minutes (0: never)",
      '10',
    )
    .option(
      '--spool <dir>',
      'also write what is held while the store fails to DIR/held.spool: a collector stopped or killed meanwhile loses none of it (the next one on DIR stores it first), and an outage longer than --store-buffer is kept on disk',
    )
    .option(
      '--spool-size <size>',
      'most bytes the spool file may take (past it, what arrives is held in memory or lost, counted)',
      '4G',
    )
    .option('--metrics <host:port>', 'serve GET /healthz and /metrics (Prometheus) on this loopback address')
    .option('--metrics-public', 'allow --metrics on a non-loopback address (it has no authentication)')
    .option('--no-geo', 'skip country/AS enrichment')
    .option('--watchlist <file>', 'extra CIDR watchlist file (name,cidr per line)')
    .option('--no-detect', 'store flows only; run `coinradar detect` later')
    .option('--list <file...>', 'extra infrastructure list(s) for detection: CSV value,label,coin,port,name')
    .action(
      async (o: {
        listen: string;
        db: string;
        duration?: string;
        maxDatagrams?: string;
        recvBuffer: string;
        storeNice: string;
        exporters?: string;
        maxExporters?: string;
        maxDomains?: string;
        maxTemplates?: string;
        maxBacklog: string;
        maxBacklogMs: string;
        storeMemory?: string;
        storeBuffer: string;
        storeTimeout: string;
        spool?: string;
        spoolSize: string;
        metrics?: string;
        metricsPublic?: boolean;
        geo: boolean;
        watchlist?: string;
        detect: boolean;
        list?: string[];
      }) => {
        // Every option is checked before the store is opened or a socket bound.
        const exporters = o.exporters !== undefined ? parseExporterList(o.exporters) : [];
        const decoderLimits: Record<string, number> = {};
        for (const [key, flag] of CAP_FLAGS) {
          const v = o[key];
          if (v !== undefined) decoderLimits[CAP_OPTION[key]] = parseWholeNumber(flag, v, 1);
        }
        const maxBacklogBatches = parseWholeNumber('--max-backlog', o.maxBacklog, 1);
        const backlogMs = parseWholeNumber('--max-backlog-ms', o.maxBacklogMs, 1);
        const metricsAddr = o.metrics ? parseMetricsAddress(o.metrics, o.metricsPublic) : undefined;
        const maxDatagrams = o.maxDatagrams ? parseWholeNumber('--max-datagrams', o.maxDatagrams) : 0;
        const recvBufferBytes = parseWholeNumber('--recv-buffer', o.recvBuffer, 1);
        const storeNice =
          o.storeNice === 'off' ? undefined : parseWholeNumber('--store-nice', o.storeNice, 0, 19);
        const durationS = o.duration ? parseNumberOption('--duration', o.duration, 0) : 0;
        const memoryLimit = o.storeMemory ? parseMemoryLimit(o.storeMemory) : serviceMemoryLimit();
        const storeBufferBytes = parseStoreBuffer(o.storeBuffer);
        const spoolBytes = parseSpoolSize(o.spoolSize);
        const storeTimeoutMs = parseNumberOption('--store-timeout', o.storeTimeout, 0) * 1000;
        let shown = 0;
        let storeFailures = 0;
        const openStore = () => withStoreTimeout(storeTimeoutMs, () => openFlowStore(o.db, { memoryLimit }));
        let store: FlowStore | null = null;
        let detection: Awaited<ReturnType<typeof detectionHookFor>> | undefined;
        // Other commands (summary, series, report, screen, …) read the store through this process
        // while it collects; detection writes into it.
        const ready = async (s: FlowStore) => {
          await s.serveReaders();
          detection = o.detect ? await detectionHookFor(s, { lists: o.list }) : undefined;
        };
        // A store that cannot be reached at start: with a spool, collect anyway (late-store.ts).
        let late: LateStore | null = null;
        const lateDetection = lateHook();
        try {
          store = await openStore();
        } catch (e) {
          if (!isUnreachable(e)) throw e;
          if (!o.spool)
            throw new Error(
              `${(e as Error).message} (with --spool DIR, collect starts anyway and keeps what arrives on disk until the store answers)`,
              { cause: e },
            );
          let opened: FlowStore | null = null;
          late = lateStore(e, async () => {
            opened ??= await openStore();
            await ready(opened);
            if (detection) lateDetection.set(detection.hook);
            return opened;
          });
          process.stderr.write(
            `warning: the store cannot be reached (${String((e as Error).message).split('\n')[0]}); collecting anyway, what arrives held in ${join(o.spool, 'held.spool')} (and memory) and stored once it answers (tried again with each batch and commit)\n`,
          );
        }
        let collector: NetflowCollector;
        try {
          if (store) await ready(store);
          const enricher = await loadEnricher({ geo: o.geo, watchlist: o.watchlist, db: o.db });
          collector = await NetflowCollector.start({
            listen: o.listen,
            store: late ? late.store : store!,
            enricher,
            hooks: late ? (o.detect ? [lateDetection.hook] : []) : detection ? [detection.hook] : [],
            maxDatagrams,
            recvBufferBytes,
            storeNice,
            exporters,
            decoderLimits,
            maxBacklogBatches,
            backlogMs,
            storeBufferBytes,
            storeTimeoutMs,
            spoolDir: o.spool,
            spoolBytes,
            onProblem: (p) => {
              if (shown++ < 20) process.stderr.write(`warning: ${formatProblem(p)}\n`);
            },
            onStoreFailure: (m) => {
              if (storeFailures++ < 20) process.stderr.write(`warning: ${m}\n`);
            },
          });
        } catch (e) {
          await (store ?? late?.opened())?.close();
          throw e;
        }
        const closeStore = async () => {
          await (store ?? late?.opened())?.close();
        };
        let metrics: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
        if (metricsAddr) {
          try {
            metrics = await startMetricsServer(metricsAddr, () => collector.metrics());
          } catch (e) {
            await collector.stop().catch(() => undefined);
            await closeStore();
            throw new Error(`--metrics ${o.metrics}: ${(e as Error).message}`, { cause: e });
          }
        }
        const asked = recvBufferBytes;
        // Linux reports twice the usable size it granted.
        const granted = Math.floor(collector.recvBuffer / 2);
        process.stderr.write(
          `collecting on ${collector.source} into ${redact(o.db)} (receive buffer ${granted} bytes usable)\n`,
        );
        if (granted < asked) {
          process.stderr.write(
            `note: the kernel capped the receive buffer at ${granted} of ${asked} bytes requested; raise it with sysctl -w net.core.rmem_max=${asked}\n`,
          );
        }
        if (metricsAddr && metrics) {
          const h = metricsAddr.host.includes(':') ? `[${metricsAddr.host}]` : metricsAddr.host;
          process.stderr.write(`metrics on http://${h}:${metrics.port}/metrics and /healthz\n`);
        }
        const stop = () => void collector.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const timer = durationS ? setTimeout(stop, durationS * 1000) : null;
        try {
          const r = await collector.done;
          process.stdout.write(collectSummary(r, detection?.summary()));
        } finally {
          if (timer) clearTimeout(timer);
          if (metrics) {
            metrics.server.closeAllConnections();
            await new Promise((res) => metrics.server.close(res));
          }
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await closeStore();
        }
      },
    );
}
