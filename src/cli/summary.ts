import type { Command } from 'commander';
import { filterSql } from '../flow/nfdump-filter.js';
import { FILTER_HELP } from './filter-option.js';
import { openFlowStore } from '../store/open.js';
import {
  defaultDbPath,
  SUMMARY_KEYS,
  type FlowSummary,
  type SummaryKey,
  type SummaryRow,
} from '../store/store.js';
import { collect, existingStore, parseFormat, parseWholeNumber, render, renderTable } from './output.js';

const TITLES: Record<SummaryKey, string> = {
  country: 'By country (either end)',
  asn: 'By AS (either end)',
  dport: 'By destination port',
  sport: 'By source port',
  proto: 'By protocol',
  src: 'By source address',
  dst: 'By destination address',
};

export function formatKeyed(tables: Map<SummaryKey, SummaryRow[]>): string {
  const out: string[] = [];
  for (const [key, rows] of tables) {
    if (out.length) out.push('');
    out.push(`${TITLES[key]}:`);
    const cols =
      key === 'asn' ? ['key', 'name', 'flows', 'packets', 'bytes'] : ['key', 'flows', 'packets', 'bytes'];
    out.push(
      renderTable(
        rows.map((x) => ({ key: x.key, name: x.label, flows: x.flows, packets: x.packets, bytes: x.bytes })),
        cols,
      ),
    );
  }
  return out.join('\n');
}

export function formatSummary(s: FlowSummary): string {
  const rows = (r: FlowSummary['byCountry']) =>
    r.map((x) => ({ key: x.key, name: x.label, flows: x.flows, packets: x.packets, bytes: x.bytes }));
  return [
    `${s.total.flows} flows, ${s.total.packets} packets, ${s.total.bytes} bytes from ${s.total.sources} sources`,
    '',
    'By country (either end):',
    renderTable(rows(s.byCountry), ['key', 'flows', 'packets', 'bytes']),
    '',
    'By AS (either end):',
    renderTable(rows(s.byAsn), ['key', 'name', 'flows', 'packets', 'bytes']),
    '',
    'By destination port:',
    renderTable(rows(s.byPort), ['key', 'flows', 'packets', 'bytes']),
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('summary')
    .description('flows, packets and bytes by country, AS and port')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--filter <nfdump>', FILTER_HELP)
    .option('--where <sql>', 'SQL condition over flow columns')
    .option('--top <n>', 'rows per table', '15')
    .option(
      '--by <key>',
      `one table per key, computing only those: ${SUMMARY_KEYS.join(', ')} (repeatable; default: totals, country, asn, dport)`,
      collect,
      [],
    )
    .option('--order <counter>', 'rank --by tables by flows, packets or bytes', 'bytes')
    .option(
      '--format <f>',
      'table | csv | json | jsonl (CSV and JSON lines: one row per table row, its table in `by`)',
      'table',
    )
    .action(
      async (o: {
        db: string;
        filter?: string;
        where?: string;
        top: string;
        by: string[];
        order: string;
        format: string;
      }) => {
        const top = parseWholeNumber('--top', o.top, 1);
        const by = o.by.flatMap((x) => x.split(',')).map((x) => x.trim());
        for (const k of by)
          if (!(SUMMARY_KEYS as readonly string[]).includes(k))
            throw new Error(`--by ${k}: not a summary key (${SUMMARY_KEYS.join(', ')})`);
        if (!['flows', 'packets', 'bytes'].includes(o.order))
          throw new Error(`--order must be flows, packets or bytes, not ${o.order}`);
        const format = parseFormat(o.format);
        const filter = filterSql(o.filter);
        const store = await openFlowStore(existingStore(o.db));
        try {
          if (by.length) {
            const tables = await store.summarize({
              by: by as SummaryKey[],
              top,
              where: o.where,
              filter,
              order: o.order as 'flows' | 'packets' | 'bytes',
            });
            process.stdout.write(
              (format === 'json'
                ? JSON.stringify(Object.fromEntries(tables), null, 2)
                : format === 'table'
                  ? formatKeyed(tables)
                  : render(
                      [...tables].flatMap(([k, rows]) => rows.map((r) => ({ by: k, ...r }))),
                      format,
                    )) + '\n',
            );
            return;
          }
          const s = await store.summary({ top, where: o.where, filter });
          const records = () => [
            { by: 'total', key: '', label: '', ...s.total },
            ...s.byCountry.map((r) => ({ by: 'country', ...r })),
            ...s.byAsn.map((r) => ({ by: 'asn', ...r })),
            ...s.byPort.map((r) => ({ by: 'dport', ...r })),
          ];
          process.stdout.write(
            (format === 'json'
              ? JSON.stringify(s, null, 2)
              : format === 'table'
                ? formatSummary(s)
                : render(records(), format, ['by', 'key', 'label', 'flows', 'packets', 'bytes', 'sources'])) +
              '\n',
          );
        } finally {
          await store.close();
        }
      },
    );
}
