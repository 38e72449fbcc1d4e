import type { Command } from 'commander';
import { openDetectionStore } from '../store/detections.js';
import { openFlowStore } from '../store/open.js';
import { defaultDbPath } from '../store/store.js';
import { existingStore, parseFormat, parseWholeNumber, render } from './output.js';

export function register(program: Command): void {
  program
    .command('artifacts')
    .description(
      'distinct wallets, workers, agents, pools and clients seen in detections, with first/last seen and hosts',
    )
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--kind <kind>', 'wallet | worker | agent | pool | client | account | rig')
    .option('--limit <n>', 'at most this many rows', '1000')
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(async (o: { db: string; kind?: string; limit: string; format: string }) => {
      const format = parseFormat(o.format);
      const limit = parseWholeNumber('--limit', o.limit);
      const store = await openFlowStore(existingStore(o.db));
      try {
        const det = await openDetectionStore(store);
        const rows = await det.artifacts({ kind: o.kind, limit });
        process.stdout.write(render(rows as unknown as Record<string, unknown>[], format) + '\n');
      } finally {
        await store.close();
      }
    });
}
