/**
 * The console in a real browser (issue 11, step 4): Debian's chromium driven by playwright-core
 * (no browser download). A store is built from a generated scenario (its NetFlow export and a
 * packet capture with Stratum payloads, ingested as `coinradar ingest` does, with the sanctions
 * list of the server tests), `coinradar serve` is started on 127.0.0.1:0, and the browser signs
 * in with a key, sees the surge onset on the overview, opens a miner from the hosts table and its
 * evidence, searches, screens an address and signs out — with no console error, every page
 * reachable by keyboard, a screenshot of each page. While serve holds the store, the CLI reads it
 * from another process. Needs `npm run build` (the console's files in dist/console).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openScreeningServer } from '../../src/cli/serve.js';
import { DEFAULT_CONSOLE_DIR } from '../../src/server/console-files.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { runCli } from '../cli-run.js';
import { CHROMIUM, CHROMIUM_ARGS, exitAfterTests, skipWithoutChromium } from './chromium.js';

/** Listed in the January 2022 SDN CSV of the test fixtures (TIAN, Yinyin). */
const TIAN = '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ';
const FIX = 'test/fixtures/sanctions';
/** Screenshots stay here after the test (printed); COINRADAR_UPDATE_SCREENSHOT=1 also copies the
 * overview to docs/img/console-overview.png for the README. */
const OUT = process.env.COINRADAR_TEST_OUT ?? join(tmpdir(), 'coinradar-console-e2e');

/** The focused element as "tag:name" (its name, id or text), evaluated in the page. */
const ACTIVE_ELEMENT = `(() => {
  const e = document.activeElement;
  if (!e) return '';
  return e.tagName.toLowerCase() + ':' + ((e.getAttribute('name') || e.id) || (e.textContent || '').trim());
})()`;

const run = promisify(execFile);
/** A coinradar command in another process (as an analyst's shell would run it), bounded in time. */
const otherProcess = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { timeout: 60_000 });

let passed = false;
exitAfterTests('e2e', () => passed);

test(
  'the console in chromium: sign in, the onset on the overview, a miner and its evidence, search, screening, keyboard, no console errors',
  { skip: skipWithoutChromium, timeout: 300_000 },
  async () => {
    assert.ok(
      existsSync(join(DEFAULT_CONSOLE_DIR, 'index.html')),
      `no console build in ${DEFAULT_CONSOLE_DIR}: run npm run build first`,
    );
    const { chromium } = await import('playwright-core');
    const dir = mkdtempSync(join(tmpdir(), 'cr-console-'));
    mkdirSync(OUT, { recursive: true });
    const db = join(dir, 'store.duckdb');
    const t0 = Date.now();
    const step = (what: string) =>
      process.stderr.write(`e2e: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    try {
      // The store: a scenario's NetFlow export and its Stratum capture, ingested, and the list.
      const world = [
        '--days',
        '28',
        '--hosts',
        '10',
        '--miners',
        '3',
        '--btc-nodes',
        '0',
        '--growth',
        'step',
      ];
      const when = ['--start', '2017-05-03', '--onset', '2017-05-17', '--seed', '3'];
      await runCli(['scenario', 'generate', '--out', join(dir, 'nf'), ...world, ...when]);
      await runCli([
        'scenario',
        'generate',
        '--out',
        join(dir, 'cap'),
        ...world,
        ...when,
        '--format',
        'pcap',
        '--capture-hours',
        '1',
        '--capture-hosts',
        '1',
      ]);
      await runCli(['ingest', join(dir, 'nf', 'export.pcap'), join(dir, 'cap', 'capture.pcap'), '--db', db]);
      await runCli([
        'sanctions',
        'load',
        `${FIX}/sdn.csv`,
        `${FIX}/add.csv`,
        `${FIX}/alt.csv`,
        '--published',
        '2022-01',
        '--db',
        db,
      ]);
      const truth = JSON.parse(readFileSync(join(dir, 'cap', 'truth.json'), 'utf8')) as {
        cryptoHosts: { ip: string; kind: string; wallet?: string; pool?: { server: string } }[];
      };
      const miner = truth.cryptoHosts.find((h) => h.kind === 'miner' && h.wallet?.startsWith('1'))!;
      const { key } = new ApiKeyFile(keysPathFor(db)).create('e2e analyst');
      step('store built');

      const server = await openScreeningServer({ db, rate: 0, audit: join(dir, 'audit.jsonl') });
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      try {
        const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
        // The CLI reads the store serve holds, from another process.
        const cliScreen = otherProcess(['screen', '--db', db, '--format', 'json', '--exit-zero', TIAN]);
        const cliSummary = otherProcess(['summary', '--db', db, '--by', 'country', '--top', '3']);

        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const problems: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning')
            problems.push(`console ${m.type()}: ${m.text()}`);
        });
        page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
        page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
        page.on('request', (r) => {
          if (!r.url().startsWith(base)) problems.push(`request off the server: ${r.url()}`);
        });

        // Sign in (the page has no session yet: the sign-in form).
        await page.goto(base + '/');
        await page.getByLabel('API key').fill(key);
        await page.screenshot({ path: join(OUT, 'sign-in.png') });
        await page.getByRole('button', { name: 'Sign in' }).click();
        const cookies = await page.context().cookies();
        const session = cookies.find((c) => c.name === 'coinradar_session');
        assert.ok(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
        assert.equal(await page.evaluate('document.cookie'), '', 'scripts cannot read the session');
        step('signed in');

        // Overview: the pools' surge onset is the scenario's (step growth on 17 May 2017).
        const onset = page
          .locator('li.onset[data-series="catalogued mining pools (2018 catalogue)"]')
          .first();
        await onset.waitFor({ timeout: 60_000 });
        assert.equal(await onset.getAttribute('data-onset'), '2017-05-17');
        assert.match(
          await onset.innerText(),
          /onset 2017-05-17 \(95 % interval 2017-05-1\d – 2017-05-1\d\); step; probability 1\.000/,
        );
        await page.locator('.chart canvas').first().waitFor();
        await page
          .getByRole('table', { name: /By country/ })
          .getByText('KP')
          .first()
          .waitFor();
        await page.screenshot({ path: join(OUT, 'overview.png'), fullPage: true });
        step('overview');

        // Keyboard: Tab from the top reaches the navigation, search, the scope form and its button.
        await page.locator('body').focus();
        const reached = new Set<string>();
        for (let i = 0; i < 40; i++) {
          await page.keyboard.press('Tab');
          reached.add(await page.evaluate<string>(ACTIVE_ELEMENT));
        }
        for (const want of [
          'a:Overview',
          'a:Hosts',
          'a:Screening',
          'input:q',
          'button:Search',
          'input:scope',
          'input:since',
          'button:Show',
          'button:Sign out',
        ])
          assert.ok(reached.has(want), `Tab reaches ${want} (reached: ${[...reached].join(', ')})`);
        // A focused control shows it (focus-visible outline).
        const outline = await page.evaluate<string>('getComputedStyle(document.activeElement).outlineStyle');
        assert.notEqual(outline, 'none');

        // Hosts: by keyboard to the hosts page, the table sorted and filtered, the miner's link.
        await page.getByRole('link', { name: 'Hosts', exact: true }).focus();
        await page.keyboard.press('Enter');
        const table = page.getByRole('table', { name: /Hosts/ });
        await table.waitFor({ timeout: 60_000 });
        await page.getByRole('button', { name: /^host/ }).click();
        await page.getByLabel('Filter hosts').fill(miner.ip);
        assert.match((await table.locator('caption').innerText()) ?? '', /^Hosts: 1 of \d+/);
        await page.screenshot({ path: join(OUT, 'hosts.png'), fullPage: true });
        await table.getByRole('link', { name: miner.ip }).click();
        step('hosts');

        // The miner's page: its detections with rule, detail and list version, and the payload.
        await page.getByRole('heading', { name: `Host ${miner.ip}` }).waitFor();
        const payloadDetection = page.locator('li.detection', { hasText: 'stratum / payload' }).first();
        await payloadDetection.waitFor({ timeout: 60_000 });
        assert.match(await payloadDetection.innerText(), /rule\s+stratum\./);
        await payloadDetection.locator('summary').first().click();
        assert.match(
          await payloadDetection.locator('pre.payload').first().innerText(),
          /mining\.(subscribe|authorize)/,
        );
        await page.locator('li.detection', { hasText: 'stratum / infrastructure' }).first().waitFor();
        const wallets = page.locator('section.artifacts');
        await wallets.getByText(miner.wallet!).waitFor();
        await wallets.getByText(miner.pool!.server).first().waitFor();
        await page.screenshot({ path: join(OUT, 'host.png'), fullPage: true });
        step('host page');

        // Search: an IP goes to its host page; a pool name lists where it was seen.
        await page.getByRole('link', { name: 'Overview', exact: true }).click();
        await page.getByPlaceholder('IP, CIDR, address, txid, pool').fill(miner.ip);
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { name: `Host ${miner.ip}` }).waitFor();
        assert.equal(new URL(page.url()).hash, `#/host/${miner.ip}`);

        // Screening: the same result as `coinradar screen`, through the screening API.
        await page.getByRole('link', { name: 'Screening' }).click();
        await page.getByLabel(/Addresses/).fill(`${TIAN}\n${miner.wallet}`);
        await page.getByRole('button', { name: 'Screen' }).click();
        const listed = page.locator('tr.listed');
        await listed.waitFor();
        const cli = JSON.parse((await cliScreen).stdout) as {
          address: string;
          matched: boolean;
          matches: { entity: { name: string } }[];
        }[];
        assert.equal(cli[0].address, TIAN);
        assert.ok(cli[0].matched);
        const row = await listed.innerText();
        assert.match(row, new RegExp(`${TIAN}\\s+LISTED`));
        assert.ok(
          row.includes(cli[0].matches[0].entity.name),
          `${row} names ${cli[0].matches[0].entity.name}`,
        );
        assert.match(await page.locator('tbody tr').nth(1).innerText(), /not listed/);
        await page.screenshot({ path: join(OUT, 'screening.png'), fullPage: true });
        step('screening');
        // The other process's summary read the same store while serve held it.
        assert.match((await cliSummary).stdout, /By country[\s\S]*KP/);

        // Sign out: back to the sign-in form; the old cookie opens nothing.
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByLabel('API key').waitFor();
        const after = await page.request.get(base + '/v1/lists', {
          headers: { cookie: `coinradar_session=${session!.value}` },
        });
        assert.equal(after.status(), 401);

        assert.deepEqual(problems, []);
        if (process.env.COINRADAR_UPDATE_SCREENSHOT === '1')
          copyFileSync(join(OUT, 'overview.png'), 'docs/img/console-overview.png');
        process.stderr.write(`e2e: screenshots in ${OUT}\n`);
      } finally {
        await browser.close();
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    passed = true;
  },
);
