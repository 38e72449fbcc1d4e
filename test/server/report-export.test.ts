/**
 * The report export the console links to (issue 11: "Export: the report (HTML, PDF) of the current
 * scope"): `GET /v1/report` is the page `coinradar report` renders for the same scope (the same
 * buildReport and renderHtml, wallets screened against the server's lists), as an attachment; with
 * format=pdf, Chromium's print of it, one at a time (a second request while one prints is a 503);
 * a key or session needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector } from '../../src/detect/registry.js';
import { redetectStore } from '../../src/detect/rerun.js';
import { buildReport } from '../../src/report/build.js';
import { renderHtml } from '../../src/report/render.js';
import { screenWalletsWith } from '../../src/report/screen-wallets.js';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import { buildServer } from '../../src/server/app.js';
import { AuditLog } from '../../src/server/audit.js';
import { CHROMIUM } from '../../src/server/export-routes.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { withWorldStore } from '../helpers/world-store.js';
import { listAndKey } from './fixture.js';

/** The page without its "Generated <time>" stamp, which differs between two renderings. */
const unstamped = (html: string) => html.replace(/Generated \d{4}-\d\d-\d\dT[\d:]+Z/g, 'Generated …');

test('GET /v1/report: the HTML coinradar report renders for the scope; PDF printed one at a time; key needed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-report-export-'));
  const index = new ScreeningIndex();
  const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
  const { key } = listAndKey(index, keys);
  const audit = new AuditLog(join(dir, 'audit.jsonl'));
  try {
    await withWorldStore(
      {
        seed: 9,
        hosts: 10,
        days: 20,
        miners: 3,
        startMs: Date.UTC(2017, 4, 1),
        onsetMs: Date.UTC(2017, 4, 10),
      },
      async (_world, store, series) => {
        await redetectStore(store, await openDetectionStore(store), createDetector(loadInfrastructure()));
        const app = buildServer({ index, keys, audit, rate: 0, network: { db: store.db } });
        try {
          const r = await app.inject({
            method: 'GET',
            url: '/v1/report?scope=country:KP&since=2017-05-01&until=2017-05-21',
            headers: { 'x-api-key': key },
          });
          assert.equal(r.statusCode, 200, r.body);
          assert.match(String(r.headers['content-type']), /^text\/html/);
          assert.equal(r.headers['content-disposition'], 'attachment; filename="report.html"');
          const report = await buildReport(series, {
            scope: { country: 'KP' },
            scopeText: 'country:KP',
            scopeArgs: '--scope country:KP',
            fromMs: Date.UTC(2017, 4, 1),
            toMs: Date.UTC(2017, 4, 21),
          });
          screenWalletsWith(index, 'ofac-sdn v1 (2022-01)', report);
          assert.ok(report.findings.length > 1, report.findings.join(' | '));
          assert.equal(unstamped(r.body), unstamped(renderHtml(report)));
          assert.match(r.body, /None of the \d+ wallet\(s\) is on the sanctions lists loaded \(ofac-sdn v1/);

          for (const url of [
            '/v1/report?scope=where:1=1',
            '/v1/report?since=yesterday',
            '/v1/report?format=docx',
          ])
            assert.equal(
              (await app.inject({ method: 'GET', url, headers: { 'x-api-key': key } })).statusCode,
              400,
              url,
            );
          assert.equal((await app.inject({ method: 'GET', url: '/v1/report' })).statusCode, 401);

          if (existsSync(CHROMIUM)) {
            // Two at once: one prints, the other is told to come back.
            const ask = () =>
              app.inject({
                method: 'GET',
                url: '/v1/report?scope=country:KP&format=pdf',
                headers: { 'x-api-key': key },
              });
            const [a, b] = await Promise.all([ask(), ask()]);
            const codes = [a.statusCode, b.statusCode].sort();
            assert.deepEqual(codes, [200, 503]);
            const ok = a.statusCode === 200 ? a : b;
            const busy = a.statusCode === 200 ? b : a;
            assert.equal(busy.json().error.code, 'busy');
            assert.equal(busy.headers['retry-after'], '10');
            assert.equal(ok.headers['content-type'], 'application/pdf');
            assert.equal(ok.rawPayload.subarray(0, 5).toString(), '%PDF-');
            assert.ok(ok.rawPayload.length > 10_000, `${ok.rawPayload.length} bytes`);
            // Once printed, the next one prints.
            assert.equal((await ask()).statusCode, 200);
          } else process.stderr.write(`report-export: no ${CHROMIUM}, PDF part skipped\n`);
        } finally {
          await app.close();
        }
      },
    );
  } finally {
    await audit.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
