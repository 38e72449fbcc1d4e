import type { Command } from 'commander';
import { flowCondition } from '../flow/nfdump-filter.js';
import { FILTER_HELP } from './filter-option.js';
import { openFlowStore } from '../store/open.js';
import { defaultDbPath } from '../store/store.js';
import { existingStore, parseFormat, parseWholeNumber, render } from './output.js';

const TABLE_COLUMNS = [
  'first',
  'src',
  'sport',
  'dst',
  'dport',
  'proto',
  'packets',
  'bytes',
  'rev_packets',
  'rev_bytes',
  'src_country',
  'dst_country',
  'src_asn',
  'dst_asn',
];

export function register(program: Command): void {
  program
    .command('flows')
    .description('list stored flows')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--filter <nfdump>', FILTER_HELP)
    .option('--where <sql>', 'SQL condition over flow columns, e.g. "dst_port = 8333"')
    .option('--limit <n>', 'at most this many flows', '100')
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(async (o: { db: string; filter?: string; where?: string; limit: string; format: string }) => {
      const format = parseFormat(o.format);
      const where = flowCondition(o.filter, o.where);
      const store = await openFlowStore(existingStore(o.db));
      try {
        const rows = await store.flows({ where, limit: parseWholeNumber('--limit', o.limit) });
        const out = render(
          rows as unknown as Record<string, unknown>[],
          format,
          format === 'table' ? TABLE_COLUMNS : undefined,
        );
        process.stdout.write(out + '\n');
      } finally {
        await store.close();
      }
    });
}
