import type { Command } from 'commander';
import { loadInfrastructure } from '../detect/infrastructure.js';
import { addImportedInfrastructure } from '../indicators/apply.js';
import { DuckDbFlowStore } from '../store/duckdb/flows.js';
import { createDetector } from '../detect/registry.js';
import { redetectStore } from '../detect/rerun.js';
import { behaviourPass, DEFAULT_BEHAVIOUR_WINDOW_MS } from '../detect/behaviour-pass.js';
import { openDetectionStore } from '../store/detections.js';
import { openFlowStore } from '../store/open.js';
import { defaultDbPath } from '../store/store.js';
import { Progress } from './progress.js';

export function register(program: Command): void {
  program
    .command('detect')
    .description(
      'run crypto-traffic detection again over every stored flow (after rules or lists change); replaces earlier detections',
    )
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--list <file...>', 'extra infrastructure list(s): CSV value,label,coin,port,name')
    .option(
      '--window <minutes>',
      'window of the flow-behaviour classifier',
      String(DEFAULT_BEHAVIOUR_WINDOW_MS / 60000),
    )
    .option('--no-behaviour', 'skip the flow-behaviour classifier')
    .action(async (o: { db: string; list?: string[]; window: string; behaviour: boolean }) => {
      const windowMs = Number(o.window) * 60000;
      if (!(windowMs > 0)) throw new Error(`--window must be a positive number of minutes, not ${o.window}`);
      const infra = loadInfrastructure(o.list ?? [], (m) => process.stderr.write(`warning: ${m}\n`));
      const store = await openFlowStore(o.db);
      try {
        // Indicators imported into this store (coinradar indicators import) join the lists.
        if (store instanceof DuckDbFlowStore) await addImportedInfrastructure(infra, store.db);
        const detector = createDetector(infra);
        const det = await openDetectionStore(store);
        const progress = new Progress('detect');
        const r = await redetectStore(store, det, detector, {
          onProgress: (n) => progress.update(n, `${n} flows`),
          after: o.behaviour ? () => behaviourPass(det, detector.version, windowMs) : undefined,
        });
        progress.done();
        process.stdout.write(
          `${r.flows} flows, ${r.detections} detections (lists: ${infra.versions.join(', ')})\n`,
        );
        for (const c of await det.counts())
          process.stdout.write(
            `  ${c.label.padEnd(18)} ${c.confidence.padEnd(15)} ${(c.coin || '-').padEnd(10)} ${c.n}\n`,
          );
      } finally {
        await store.close();
      }
    });
}
