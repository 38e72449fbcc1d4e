/**
 * The console's big tables in chromium (issue 11: "tables of 10,000 rows stay responsive
 * (virtualised)"): a store of 10,000 hosts written from SQL, `serve` on 127.0.0.1:0, the hosts
 * table loaded whole — and only the rows in view in the DOM, while sorting, filtering and
 * scrolling to the last row each answer within a bound; the CSV link saves the API's CSV of every
 * host (with the session cookie, no key in the page). Needs `npm run build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer } from '../../src/cli/serve.js';
import { DEFAULT_CONSOLE_DIR } from '../../src/server/console-files.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { exitAfterTests, signIn, skipWithoutChromium, withChromium } from './chromium.js';
import { buildSyntheticStore } from './synthetic-store.js';

const OUT = process.env.COINRADAR_TEST_OUT ?? join(tmpdir(), 'coinradar-console-e2e');
const HOSTS = 10_000;
/** Most table rows in the DOM at once: the 20 in view, 10 either side, two spacers, the header. */
const MAX_ROWS_IN_DOM = 45;
/** A sort, a filter or a jump to the end must show its rows within this (2-core machine, loaded). */
const RESPONSIVE_MS = 1500;
/** The first drawn cell's and the caption's text, evaluated in the page. */
const FIRST_CELL = `document.querySelector('table.vt tbody tr:not(.spacer) td')?.textContent`;
const CAPTION = `document.querySelector('table.vt caption')?.textContent`;

let passed = false;
exitAfterTests('tables', () => passed);

test(
  'a 10,000-host table in chromium: only the rows in view in the DOM; sort, filter and scroll respond; CSV of every host',
  { skip: skipWithoutChromium, timeout: 180_000 },
  async () => {
    assert.ok(existsSync(join(DEFAULT_CONSOLE_DIR, 'index.html')), 'run npm run build first');
    const dir = mkdtempSync(join(tmpdir(), 'cr-tables-'));
    mkdirSync(OUT, { recursive: true });
    const db = join(dir, 'store.duckdb');
    try {
      await buildSyntheticStore(db, { flows: 8 * HOSTS, hosts: HOSTS, days: 20, onsetDay: 10 });
      const { key } = new ApiKeyFile(keysPathFor(db)).create('tables');
      const server = await openScreeningServer({ db, rate: 0, audit: join(dir, 'audit.jsonl') });
      await withChromium(
        () => server.close(),
        async (browser) => {
          const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
          const context = await browser.newContext({
            acceptDownloads: true,
            viewport: { width: 1280, height: 900 },
          });
          const page = await context.newPage();
          const problems = await signIn(page, base, key);

          await page.goto(base + '/#/hosts');
          const table = page.getByRole('table', { name: /^Hosts/ });
          await table.waitFor({ timeout: 90_000 });
          const caption = table.locator('caption');
          assert.equal(await caption.innerText(), `Hosts: ${HOSTS} of ${HOSTS}`);
          const rowsInDom = () => table.locator('tr').count();
          assert.ok((await rowsInDom()) <= MAX_ROWS_IN_DOM, `${await rowsInDom()} rows in the DOM`);
          const firstHost = () => table.locator('tbody tr:not(.spacer) td').first().innerText();

          // Sort by host (text order): the first row is 10.0.0.1, drawn within the bound.
          let t = Date.now();
          await page.getByRole('button', { name: /^host/ }).click();
          await page.waitForFunction(`${FIRST_CELL} === '10.0.0.1'`, null, { timeout: RESPONSIVE_MS });
          const sortMs = Date.now() - t;
          // Descending: the other end of text order (hosts run 10.0.0.1 – 10.0.39.16).
          await page.getByRole('button', { name: /^host/ }).click();
          assert.equal(await firstHost(), '10.0.9.99');

          // Scroll to the end: the last row (10.0.0.1 in descending order) is drawn, still ≤ 45 rows.
          t = Date.now();
          await page.evaluate(
            `(() => { const b = document.querySelector('.vt-box'); b.scrollTop = b.scrollHeight; })()`,
          );
          await table
            .getByRole('link', { name: '10.0.0.1', exact: true })
            .waitFor({ timeout: RESPONSIVE_MS });
          const scrollMs = Date.now() - t;
          assert.ok(
            (await rowsInDom()) <= MAX_ROWS_IN_DOM,
            `${await rowsInDom()} rows in the DOM at the end`,
          );
          await page.screenshot({ path: join(OUT, 'hosts-10000.png') });

          // Filter: the hosts of 10.0.7.0/24 (256; no other cell has that text).
          t = Date.now();
          await page.getByLabel('Filter hosts').fill('10.0.7.');
          await page.waitForFunction(`${CAPTION} === 'Hosts: 256 of ${HOSTS}'`, null, {
            timeout: RESPONSIVE_MS,
          });
          const filterMs = Date.now() - t;
          assert.equal(await firstHost(), '10.0.7.99', 'still sorted, descending');

          // CSV: the API's, with the session cookie; every host, not only the filtered ones drawn.
          const [download] = await Promise.all([
            page.waitForEvent('download'),
            page.getByRole('link', { name: 'Hosts as CSV' }).click(),
          ]);
          assert.equal(download.suggestedFilename(), 'hosts.csv');
          const file = join(dir, 'hosts.csv');
          await download.saveAs(file);
          const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
          assert.equal(lines.length, HOSTS + 1);
          assert.match(lines[0], /^host,country,asn,first,last,/);
          assert.deepEqual(problems, []);
          process.stderr.write(
            `tables: ${HOSTS} hosts; sort ${sortMs} ms, scroll to the end ${scrollMs} ms, filter ${filterMs} ms (bound ${RESPONSIVE_MS} ms)\n`,
          );
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    passed = true;
  },
);
