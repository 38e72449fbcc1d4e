import type { Command } from 'commander';
import { flowCondition } from '../flow/nfdump-filter.js';
import { FILTER_HELP } from './filter-option.js';
import { CONFIDENCE_RANK, parseConfidence } from '../detect/types.js';
import { openDetectionStore } from '../store/detections.js';
import { openFlowStore } from '../store/open.js';
import { defaultDbPath } from '../store/store.js';
import { existingStore, parseFormat, parseWholeNumber, render } from './output.js';

const TABLE_COLUMNS = [
  'first',
  'src',
  'sport',
  'dst',
  'dport',
  'label',
  'coin',
  'confidence',
  'detail',
  'artifacts',
];

export function register(program: Command): void {
  program
    .command('detections')
    .description('list stored detections with their flow, evidence and artifacts')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--min-confidence <c>', 'payload | infrastructure | behaviour | port', 'port')
    .option('--label <label>', 'only this label (e.g. stratum)')
    .option('--filter <nfdump>', FILTER_HELP)
    .option('--where <sql>', 'SQL condition over flow columns, e.g. "f.dst_port = 3333"')
    .option('--limit <n>', 'at most this many detections', '1000')
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(
      async (o: {
        db: string;
        minConfidence: string;
        label?: string;
        filter?: string;
        where?: string;
        limit: string;
        format: string;
      }) => {
        const format = parseFormat(o.format);
        const minRank = CONFIDENCE_RANK[parseConfidence(o.minConfidence)];
        // Columns are qualified here: the query joins detections (d) and flows (f).
        const where = flowCondition(o.filter, o.where, { qualifier: 'f.' });
        const limit = parseWholeNumber('--limit', o.limit);
        const store = await openFlowStore(existingStore(o.db));
        try {
          const det = await openDetectionStore(store);
          const rows = await det.detections({
            minRank,
            label: o.label,
            where,
            limit,
          });
          let out = rows as unknown as Record<string, unknown>[];
          if (format === 'table') {
            out = rows.map((r) => ({
              ...r,
              detail: String(r.evidence.detail ?? ''),
              artifacts: r.artifacts.map((a) => `${a.kind}=${a.value}`).join(' '),
            }));
          }
          process.stdout.write(
            render(out, format, format === 'jsonl' || format === 'json' ? undefined : TABLE_COLUMNS) + '\n',
          );
        } finally {
          await store.close();
        }
      },
    );
}
