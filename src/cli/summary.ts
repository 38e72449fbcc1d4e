import type { Command } from 'commander';
import { openFlowStore } from '../store/open.js';
import { defaultDbPath, type FlowSummary } from '../store/store.js';
import { renderTable } from './output.js';

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
    .option('--where <sql>', 'SQL condition over flow columns')
    .option('--top <n>', 'rows per table', '15')
    .option('--format <f>', 'table | json', 'table')
    .action(async (o: { db: string; where?: string; top: string; format: string }) => {
      const store = await openFlowStore(o.db);
      try {
        const s = await store.summary({ top: Number(o.top), where: o.where });
        process.stdout.write((o.format === 'json' ? JSON.stringify(s, null, 2) : formatSummary(s)) + '\n');
      } finally {
        await store.close();
      }
    });
}
