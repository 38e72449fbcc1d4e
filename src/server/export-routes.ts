/**
 * The report of a scope, as the console exports it: `GET /v1/report?scope=…&since=…&until=…` is
 * the self-contained HTML `coinradar report` writes (built by the same buildReport and
 * renderHtml, its wallets screened against the lists the server holds), or with `format=pdf` that
 * page printed by headless Chromium. Printing is bounded: one at a time (a second request while one
 * prints gets 503 with Retry-After), a 60 s limit after which the browser is killed, and nothing
 * but a file:// page of our own HTML loaded, with networking off.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildReport } from '../report/build.js';
import { renderHtml } from '../report/render.js';
import { screenWalletsWith } from '../report/screen-wallets.js';
import type { ScreeningIndex } from '../sanctions/screen.js';
import { parseDay } from '../cli/series.js';
import { sendError } from './errors.js';
import { networkReader, oneAtATime, type NetworkApi } from './network.js';
import { parseApiScope, ScopeError } from './scope.js';

export const CHROMIUM = '/usr/bin/chromium';
/** How long one PDF may take before the browser is killed. */
export const PDF_TIMEOUT_MS = 60_000;

/** The store as the network routes read it (a reader, or a DuckDB database). */
export interface ExportApi extends NetworkApi {
  /** The lists the server screens against now. */
  index: () => ScreeningIndex;
  /** The browser that prints PDFs (default /usr/bin/chromium; none: PDF answers 501). */
  chromium?: string | null;
}

/** Print an HTML page to PDF with headless Chromium; rejects after PDF_TIMEOUT_MS. */
function printPdf(chromium: string, html: string): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'cr-report-pdf-'));
  const page = join(dir, 'report.html');
  const pdf = join(dir, 'report.pdf');
  writeFileSync(page, html);
  return new Promise<Buffer>((resolve, reject) => {
    execFile(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${join(dir, 'profile')}`,
        `--print-to-pdf=${pdf}`,
        `file://${page}`,
      ],
      { timeout: PDF_TIMEOUT_MS, killSignal: 'SIGKILL' },
      (err) => {
        try {
          if (err)
            reject(new Error(`chromium: ${err.killed ? `killed after ${PDF_TIMEOUT_MS} ms` : err.message}`));
          else resolve(readFileSync(pdf));
        } catch (e) {
          reject(e as Error);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );
  });
}

export function registerExportRoutes(app: FastifyInstance, api: ExportApi): void {
  const reader = networkReader(api);
  const chromium = api.chromium === undefined ? (existsSync(CHROMIUM) ? CHROMIUM : null) : api.chromium;
  let printing = false;

  app.get<{ Querystring: { scope?: string[]; since?: string; until?: string; format?: 'html' | 'pdf' } }>(
    '/v1/report',
    {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            scope: { type: 'array', items: { type: 'string', maxLength: 128 }, maxItems: 8 },
            since: { type: 'string', maxLength: 40 },
            until: { type: 'string', maxLength: 40 },
            format: { enum: ['html', 'pdf'] },
          },
        },
      },
    },
    async (req, reply) => {
      const pdf = req.query.format === 'pdf';
      if (pdf && !chromium)
        return sendError(reply, 501, 'no_pdf', 'no chromium on the server: PDF not available');
      if (pdf && printing) {
        reply.header('retry-after', '10');
        return sendError(reply, 503, 'busy', 'a PDF is being printed; one at a time: retry in a few seconds');
      }
      // The printer is taken before the report is built, so a second PDF asked meanwhile is refused
      // at once rather than queued behind it.
      if (pdf) printing = true;
      let html: string;
      try {
        html = await oneAtATime(async () => {
          const scope = parseApiScope(req.query.scope ?? [], (lo, hi) => reader.addressRange(lo, hi));
          const report = await buildReport(reader, {
            scope: scope.series,
            scopeText: scope.text || 'all flows',
            scopeArgs: (req.query.scope ?? []).map((s) => `--scope ${s}`).join(' '),
            fromMs: parseDay(req.query.since, 'since'),
            toMs: parseDay(req.query.until, 'until'),
          });
          const index = api.index();
          if (index.versions.length > 0)
            screenWalletsWith(
              index,
              index.versions
                .map((v) => `${v.list} v${v.versionId} (${v.published ?? 'date unknown'})`)
                .join(', '),
              report,
            );
          return renderHtml(report);
        });
      } catch (e) {
        if (pdf) printing = false;
        if (e instanceof ScopeError || /since|until/.test((e as Error).message))
          return sendError(reply, 400, 'bad_request', (e as Error).message);
        throw e;
      }
      if (!pdf)
        return reply
          .type('text/html; charset=utf-8')
          .header('content-disposition', 'attachment; filename="report.html"')
          .send(html);
      try {
        const body = await printPdf(chromium!, html);
        return reply
          .type('application/pdf')
          .header('content-disposition', 'attachment; filename="report.pdf"')
          .send(body);
      } finally {
        printing = false;
      }
    },
  );
}
