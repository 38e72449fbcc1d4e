/**
 * Console benchmark (issue 11): a store of N flows written straight from SQL (test/console/
 * synthetic-store.ts: 10,000 internal hosts over 8 countries, a quarter of the flows on crypto
 * ports from day 30 of 60), then `serve` over it on 127.0.0.1:0 and
 *   - each overview API answer (the calls the overview page makes: /v1/series and /v1/summary by
 *     country and AS, top 300) asked `runs` times over HTTP with a key: median and p95;
 *   - the overview's first meaningful paint in chromium: from navigation (signed in) to the chart's
 *     canvas and the surge list drawn, `runs` page loads: median and p95.
 * Targets from the issue: every overview answer ≤ 1 s at p95, first meaningful paint ≤ 2 s.
 * Prints the machine (CPUs, model) and the load average before and after.
 * Usage: node --import tsx bench/console.ts [flows=50000000] [runs=20] [store=<tmp>/console-bench.duckdb]
 * (an existing store file is reused, not rebuilt).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer } from '../src/cli/serve.js';
import { ApiKeyFile, keysPathFor } from '../src/server/keys.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../test/console/chromium.js';
import { buildSyntheticStore } from '../test/console/synthetic-store.js';

const FLOWS = Number(process.argv[2] ?? 50_000_000);
const RUNS = Number(process.argv[3] ?? 20);
const tmp = mkdtempSync(join(tmpdir(), 'cr-console-bench-'));
const DB = process.argv[4] ?? join(tmp, 'console-bench.duckdb');
const say = (s: string) => process.stdout.write(s + '\n');
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];
const stats = (xs: number[]) => `median ${pct(xs, 0.5).toFixed(0)} ms, p95 ${pct(xs, 0.95).toFixed(0)} ms`;

say(`machine: ${cpus().length} CPUs, ${cpus()[0]?.model}; load average ${load()}`);
if (!existsSync(DB)) {
  say(`building a store of ${FLOWS.toLocaleString('en')} flows in ${DB} …`);
  const ms = await buildSyntheticStore(DB, { flows: FLOWS });
  say(
    `built in ${(ms / 1000).toFixed(1)} s (${((FLOWS / ms) * 1000).toLocaleString('en', { maximumFractionDigits: 0 })} flows/s), ${(statSync(DB).size / 1e9).toFixed(2)} GB; load average ${load()}`,
  );
} else say(`reusing ${DB} (${(statSync(DB).size / 1e9).toFixed(2)} GB)`);

const { key } = new ApiKeyFile(keysPathFor(DB)).create(`bench ${Date.now()}`);
const server = await openScreeningServer({ db: DB, rate: 0, audit: join(tmp, 'audit.jsonl') });
try {
  const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
  // The overview's calls (pages/Overview.tsx): all flows, and a country scope.
  const calls = [
    '/v1/series',
    '/v1/summary?by=country&by=asn&top=300',
    '/v1/series?scope=country:KP',
    '/v1/summary?scope=country:KP&by=country&by=asn&top=300',
  ];
  let over = 0;
  for (const url of calls) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const r = await fetch(base + url, {
        headers: { 'x-api-key': key },
        signal: AbortSignal.timeout(120_000),
      });
      if (r.status !== 200) throw new Error(`${url}: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
      times.push(performance.now() - t);
    }
    if (pct(times, 0.95) > 1000) over++;
    say(
      `GET ${url}: ${stats(times)} over ${RUNS} calls${pct(times, 0.95) > 1000 ? '  (over the 1 s target)' : ''}`,
    );
  }

  if (existsSync(CHROMIUM)) {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto(base + '/');
      await page.getByLabel('API key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('ul.surges').waitFor({ timeout: 120_000 });
      const paints: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        // A fresh load (the session cookie kept): the page, its script, sign-in check, both calls.
        await page.goto(`${base}/?run=${i}#/overview`);
        await page.locator('.chart canvas').first().waitFor({ timeout: 120_000 });
        await page.locator('ul.surges li').first().waitFor({ timeout: 120_000 });
        paints.push(performance.now() - t);
      }
      say(
        `overview first meaningful paint (chart and surges drawn) in chromium: ${stats(paints)} over ${RUNS} loads${pct(paints, 0.95) > 2000 ? '  (over the 2 s target)' : ''}`,
      );
    } finally {
      await browser.close();
    }
  } else say(`no ${CHROMIUM}: first meaningful paint not measured`);
  say(`${over} of ${calls.length} overview answers over 1 s at p95; load average ${load()}`);
} finally {
  await server.close();
  if (!process.argv[4]) rmSync(tmp, { recursive: true, force: true });
}
