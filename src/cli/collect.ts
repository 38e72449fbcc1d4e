import type { Command } from 'commander';
import { detectionHookFor } from '../detect/pipeline.js';
import { formatProblem } from '../flow/diagnostics.js';
import { NetflowCollector } from '../netflow/collector.js';
import { openFlowStore } from '../store/open.js';
import { defaultDbPath } from '../store/store.js';
import { loadEnricher } from './enricher.js';

export function register(program: Command): void {
  program
    .command('collect')
    .description(
      'receive NetFlow v5/v9 and IPFIX on a UDP socket and store the flows (Ctrl-C stops and commits)',
    )
    .requiredOption('--listen <url>', 'udp://127.0.0.1:2055 or udp://[::1]:2055')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--duration <seconds>', 'stop after this many seconds')
    .option('--max-datagrams <n>', 'stop after this many datagrams')
    .option('--recv-buffer <bytes>', 'socket receive buffer to ask the kernel for', String(32 * 1024 * 1024))
    .option(
      '--store-nice <n>',
      'nice value for the storing thread, so that under CPU pressure receiving wins over storing ("off": unchanged)',
      '10',
    )
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
        geo: boolean;
        watchlist?: string;
        detect: boolean;
        list?: string[];
      }) => {
        const store = await openFlowStore(o.db);
        const enricher = await loadEnricher({ geo: o.geo, watchlist: o.watchlist });
        const detection = o.detect ? await detectionHookFor(store, { lists: o.list }) : undefined;
        let shown = 0;
        let collector: NetflowCollector;
        try {
          collector = await NetflowCollector.start({
            listen: o.listen,
            store,
            enricher,
            hooks: detection ? [detection.hook] : [],
            maxDatagrams: o.maxDatagrams ? Number(o.maxDatagrams) : 0,
            recvBufferBytes: Number(o.recvBuffer),
            storeNice: o.storeNice === 'off' ? undefined : Number(o.storeNice),
            onProblem: (p) => {
              if (shown++ < 20) process.stderr.write(`warning: ${formatProblem(p)}\n`);
            },
          });
        } catch (e) {
          await store.close();
          throw e;
        }
        const asked = Number(o.recvBuffer);
        // Linux reports twice the usable size it granted.
        const granted = Math.floor(collector.recvBuffer / 2);
        process.stderr.write(
          `collecting on ${collector.source} into ${o.db} (receive buffer ${collector.recvBuffer} bytes)\n`,
        );
        if (granted < asked) {
          process.stderr.write(
            `note: the kernel capped the receive buffer at ${granted} of ${asked} bytes requested; raise it with sysctl -w net.core.rmem_max=${asked}\n`,
          );
        }
        const stop = () => void collector.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const timer = o.duration ? setTimeout(stop, Number(o.duration) * 1000) : null;
        try {
          const r = await collector.done;
          const d = r.diagnostics;
          process.stdout.write(
            `${r.source}: ${r.datagrams} datagrams, ${r.flows} flows stored` +
              `${d.get('problems') ? `, ${d.get('problems')} problems` : ''} (${d.summary()})\n`,
          );
          if (detection) process.stdout.write(`detections: ${detection.summary()}\n`);
          for (const [exp, rate] of Object.entries(r.samplingByExporter)) {
            if (rate > 1) process.stdout.write(`  exporter ${exp}: sampling 1:${rate}\n`);
          }
        } finally {
          if (timer) clearTimeout(timer);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await store.close();
        }
      },
    );
}
