import { isClickHouseUrl, redact } from '../store/clickhouse/connection.js';
import { FILTER_HELP } from './filter-option.js';
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { buildReport, REPORT_STAGES } from '../report/build.js';
import { screenReportWallets } from '../report/screen-wallets.js';
import { renderHtml, renderMarkdown } from '../report/render.js';
import { openFlowStore } from '../store/open.js';
import { openNetworkReader } from '../store/reader.js';
import { defaultDbPath } from '../store/store.js';
import { collect, existingStore } from './output.js';
import { parseDay, parseScope, windowOption } from './series.js';
import { Progress } from './progress.js';
import { DEFAULT_STATE_DB, stateDbFor } from './serve.js';

function chromium(): string | null {
  for (const c of ['chromium', 'chromium-browser', 'google-chrome'])
    if (spawnSync('sh', ['-c', `command -v ${c}`]).status === 0) return c;
  return null;
}

export function register(program: Command): void {
  program
    .command('report')
    .description('write the investigation report: one self-contained HTML file (and Markdown, PDF)')
    .option(
      '--db <file>',
      'DuckDB file or clickhouse://USER:PASSWORD@HOST:PORT/DATABASE store (or COINRADAR_DB)',
      defaultDbPath(),
    )
    .option(
      '--state-db <file>',
      'with a ClickHouse store: the local DuckDB file whose sanctions lists screen the wallets (as serve uses)',
      DEFAULT_STATE_DB,
    )
    .option('--scope <key:value>', 'country:KP, asn:, watch:, host:, label: (repeatable, ANDed)', collect, [])
    .option('--filter <nfdump>', FILTER_HELP)
    .option('--where <sql>', 'extra SQL condition over flow columns')
    .option('--labels <list>', 'detection labels to draw a timeline for (comma-separated; needs detections)')
    .option('--title <text>', 'report title')
    .option('--since <date>', 'first day (UTC); default: the first flow with a plausible time (also --from)')
    .option('--until <date>', 'day after the last (UTC); default: the last flow (also --to)')
    .option('--from <date>', 'same as --since')
    .option('--to <date>', 'same as --until')
    .requiredOption('--out <file>', 'HTML file to write (report.html)')
    .option('--markdown <file>', 'also write Markdown')
    .option('--json <file>', 'also write the report object as JSON')
    .option('--pdf <file>', 'also write PDF through headless Chromium (when installed)')
    .action(
      async (o: {
        db: string;
        stateDb: string;
        scope: string[];
        filter?: string;
        where?: string;
        title?: string;
        from?: string;
        since?: string;
        until?: string;
        to?: string;
        out: string;
        markdown?: string;
        json?: string;
        pdf?: string;
        labels?: string;
      }) => {
        const scope = parseScope(o.scope, undefined, o.where, o.filter);
        const store = await openFlowStore(existingStore(o.db));
        const close = () => store.close();
        let report;
        const progress = new Progress('report', REPORT_STAGES.length);
        try {
          const scopeArgs = [
            ...o.scope.map((s) => `--scope ${s}`),
            o.filter !== undefined ? `--filter '${o.filter}'` : '',
            o.where ? `--where "${o.where}"` : '',
          ]
            .filter(Boolean)
            .join(' ');
          report = await buildReport(await openNetworkReader(store), {
            scope,
            scopeText:
              [...o.scope, o.filter !== undefined ? `filter ${o.filter}` : '']
                .filter(Boolean)
                .join(' AND ') || 'all flows',
            scopeArgs: `--db ${redact(o.db)} ${scopeArgs}`.trim(),
            title: o.title,
            fromMs: parseDay(windowOption(o.since, o.from, '--since/--from'), '--since'),
            toMs: parseDay(windowOption(o.until, o.to, '--until/--to'), '--until'),
            labels: o.labels ? o.labels.split(',').map((x) => x.trim()) : undefined,
            onStage: (stage, i) => progress.update(i, stage),
          });
          progress.done();
        } finally {
          await close();
        }
        // Wallets seen on the network are screened against whatever lists this database holds (on
        // ClickHouse: the state file's, when there is one; it is not created here).
        const lists = stateDbFor(o.db, o.stateDb);
        const screening =
          isClickHouseUrl(o.db) && !existsSync(lists) ? null : await screenReportWallets(lists, report);
        {
          writeFileSync(o.out, renderHtml(report));
          process.stdout.write(
            `${o.out}: ${report.findings.length} findings, ${report.hosts.length} hosts, ${report.pools.length} pool endpoints, ${report.wallets.length} wallets${screening ? ` (${screening.listed.length} on sanctions lists)` : ' (no sanctions list loaded: wallets not screened)'}, ${report.estimates.length} estimates\n`,
          );
          if (o.markdown) writeFileSync(o.markdown, renderMarkdown(report));
          if (o.json) writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
          if (o.pdf) {
            const c = chromium();
            if (!c)
              process.stderr.write(
                'warning: no chromium found: PDF not written (apt-get install chromium)\n',
              );
            else {
              const r = spawnSync(
                c,
                [
                  '--headless',
                  '--no-sandbox',
                  '--disable-gpu',
                  '--disable-background-networking',
                  '--disable-component-update',
                  '--disable-sync',
                  '--no-first-run',
                  `--print-to-pdf=${o.pdf}`,
                  `file://${absolutePath(o.out)}`,
                ],
                { stdio: 'ignore' },
              );
              if (r.status !== 0)
                process.stderr.write(`warning: chromium exited with ${r.status}: PDF not written\n`);
            }
          }
        }
      },
    );
}

function absolutePath(p: string): string {
  return p.startsWith('/') ? p : `${process.cwd()}/${p}`;
}
