import type { Command } from 'commander';
import { surgeOfBuckets, type SeriesMeasure } from '../analysis/series.js';
import type { SurgeChange } from '../analysis/surge.js';
import { openFlowStore } from '../store/open.js';
import { existingStore, parseFormat, parseNumberOption, render, renderTable } from './output.js';
import { seriesOptions, seriesQuery, type SeriesCliOptions } from './series.js';

export function surgeRows(changes: SurgeChange[], bucketMs: number) {
  const unit = bucketMs === 3600000 ? 'h' : 'd';
  return changes.map((c) => ({
    label: c.label,
    kind: c.kind,
    onset: c.onset.slice(0, bucketMs === 3600000 ? 16 : 10),
    interval: `${c.onsetInterval[0].slice(0, 10)}..${c.onsetInterval[1].slice(0, 10)}`,
    before: Number(c.before.toFixed(2)),
    after: Number(c.after.toFixed(2)),
    shape: c.shape,
    rate:
      c.shape === 'exponential'
        ? `${c.rate.toFixed(3)}/${unit} (doubling ${c.doublingBuckets!.toFixed(1)} ${unit})`
        : c.shape === 'linear'
          ? `+${c.rate.toFixed(2)}/${unit}/${unit}`
          : '',
    probability: Number(c.probability.toFixed(4)),
  }));
}

export function register(program: Command): void {
  seriesOptions(
    program
      .command('surge')
      .description(
        'find the onset of new or changed activity in a scope (change points with growth shape and probability)',
      ),
  )
    .option('--label <name>', 'series label in the output', '')
    .option('--measure <m>', 'flows | packets | sources (as exported, before sampling correction)', 'flows')
    .option('--min-probability <p>', 'posterior probability a change needs', '0.99')
    .option('--penalty <k>', 'change-point penalty in units of log(n)', '4')
    .option('--format <f>', 'table | csv | json | jsonl (CSV and JSON lines: one change per line)', 'table')
    .action(
      async (
        o: SeriesCliOptions & {
          label: string;
          measure: string;
          minProbability: string;
          penalty: string;
          format: string;
        },
      ) => {
        if (!['flows', 'packets', 'sources'].includes(o.measure))
          throw new Error(`--measure must be flows, packets or sources, not ${o.measure}`);
        const format = parseFormat(o.format);
        const minProbability = parseNumberOption('--min-probability', o.minProbability, 0, 1);
        const penalty = parseNumberOption('--penalty', o.penalty, 0);
        const q = seriesQuery(o);
        const label =
          o.label ||
          q.scope.label ||
          [...o.scope, o.ports ? `ports:${o.ports}` : ''].filter(Boolean).join(' ') ||
          'all flows';
        const store = await openFlowStore(existingStore(o.db));
        try {
          const d = await store.series({ ...q, sources: o.measure === 'sources' });
          const r = surgeOfBuckets(label, d, o.measure as SeriesMeasure, {
            minProbability,
            penalty,
          });
          const changes = r.changes.map((c) => ({ ...c, measure: o.measure }));
          if (format === 'json') process.stdout.write(JSON.stringify(changes, null, 2) + '\n');
          else if (format === 'jsonl')
            for (const c of changes) process.stdout.write(JSON.stringify(c) + '\n');
          else if (format === 'csv')
            process.stdout.write(render(changes as unknown as Record<string, unknown>[], 'csv') + '\n');
          else {
            process.stdout.write(
              `${label}: ${r.n} ${o.bucket}s observed, ${r.changes.length} change(s); negative-binomial size k=${r.dispersion.toFixed(1)}\n` +
                (r.changes.length ? renderTable(surgeRows(r.changes, d.bucketMs)) + '\n' : ''),
            );
          }
        } finally {
          await store.close();
        }
      },
    );
}
