/**
 * The console end to end, as one scenario (issue 11): a generated scenario whose miners are paid
 * on a litecoind regtest chain. The chain is indexed into the store and alice's first address put
 * on a list; the miners' Stratum logins name the addresses the chain's pool paid (alice's second
 * and third, dave's from the tagged pool); a one-hour capture with their Stratum payloads is
 * ingested first. Then `serve --collect` on 127.0.0.1:0 — one process, one DuckDB instance,
 * collector, API and money routes each on their own connection — gets the scenario's NetFlow v9
 * export replayed into it (paced as `npm run demo` paces it), and chromium signs in with a key,
 * sees the pools' onset on the overview, goes from the hosts table to a miner and its evidence,
 * from the miner's wallet to its trace with a hop expanded, searches, screens and signs out, by
 * keyboard where it says so, with no console error and a screenshot of each page. Meanwhile the
 * CLI reads the store serve holds from another process. Needs `npm run build` (dist/console).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openScreeningServer } from '../../src/cli/serve.js';
import type { ScreenResult } from '../../src/sanctions/screen.js';
import { replay } from '../../src/scenario/replay.js';
import { buildWorld, defaultConfig, ipv4Text } from '../../src/scenario/world.js';
import { writeScenario } from '../../src/scenario/write.js';
import { DEFAULT_CONSOLE_DIR } from '../../src/server/console-files.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { litecoindMissing } from '../chain/regtest-node.js';
import { runCli } from '../cli-run.js';
import { regtestChainStore } from '../server/regtest-chain.js';
import { exitAfterTests, skipWithoutChromium, withChromium } from './chromium.js';

/** Screenshots stay here after the test (printed); COINRADAR_UPDATE_SCREENSHOT=1 also copies the
 * overview and the money page to docs/img/ for the README. */
const OUT = process.env.COINRADAR_TEST_OUT ?? join(tmpdir(), 'coinradar-console-e2e');
/** A regtest address the chain never saw. */
const FRESH = 'rltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kyq3l2s';
/** The demo's replay rate (NetFlow records a second), closed-loop on what the collector has read. */
const RATE = 100_000;

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let passed = false;
exitAfterTests('e2e', () => passed);

test(
  'one scenario in chromium: NetFlow replayed into serve --collect on a store with a litecoind regtest chain; sign in, the onset, a miner and its evidence, its wallet traced a hop further, search, screening, keyboard, no console errors',
  { skip: skipWithoutChromium || litecoindMissing() || false, timeout: 300_000 },
  async () => {
    assert.ok(
      existsSync(join(DEFAULT_CONSOLE_DIR, 'index.html')),
      `no console build in ${DEFAULT_CONSOLE_DIR}: run npm run build first`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'cr-console-'));
    mkdirSync(OUT, { recursive: true });
    const db = join(dir, 'store.duckdb');
    const t0 = Date.now();
    const step = (what: string) =>
      process.stderr.write(`e2e: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    try {
      // The chain: test/chain's history on litecoind regtest, indexed; alice's a1 on list `watch`.
      const chain = await regtestChainStore(dir, db);
      step('regtest chain indexed');

      // The scenario: 10 hosts, 28 days, 3 Bitcoin-style miners from 17 May 2017 (step growth). Each
      // miner's Stratum login names an address the chain's pools paid: alice's a2 (in a1's cluster,
      // so a cluster match), a3, and dave's d2 (paid by the tagged pool).
      const world = buildWorld(
        defaultConfig({
          seed: 3,
          startMs: Date.UTC(2017, 4, 3),
          days: 28,
          onsetMs: Date.UTC(2017, 4, 17),
          growth: 'step',
          hosts: 10,
          miners: 3,
          btcNodes: 0,
          moneroShare: 0,
        }),
      );
      const paid = [chain.a[1], chain.a[2], chain.d[1]];
      const miners = world.crypto.filter((c) => c.kind === 'miner');
      assert.equal(miners.length, 3);
      miners.forEach((m, i) => (m.wallet = paid[i]));
      const miner = { ip: ipv4Text(miners[0].ip), wallet: miners[0].wallet!, pool: miners[0].pool!.server };
      const exp = writeScenario(world, join(dir, 'nf'), { format: 'netflow9' });
      writeScenario(world, join(dir, 'cap'), { format: 'pcap', captureHours: 1, captureHosts: 1 });
      // The payload sample, ingested before serve starts (a capture is read whole, not live).
      await runCli(['ingest', join(dir, 'cap', 'capture.pcap'), '--db', db]);
      const { key } = new ApiKeyFile(keysPathFor(db)).create('e2e analyst');
      step(`scenario written (${exp.records} NetFlow v9 records), capture ingested`);

      const server = await openScreeningServer({
        db,
        rate: 0,
        chainHops: 2,
        audit: join(dir, 'audit.jsonl'),
        collect: 'udp://127.0.0.1:0',
        // As the demo: a replay must arrive whole, so the backlog may grow (memory) rather than
        // drop what the store cannot take within 750 ms on a loaded machine (a run at load 9 lost
        // 23,463 of 442,372 records to that bound; the bound itself is test/netflow's).
        collectBacklog: { maxBacklogBatches: 1 << 20, backlogMs: Infinity },
      });
      await withChromium(
        () => server.close(),
        async (browser) => {
          assert.match(server.summary, /chain index litecoin-regtest to height \d+/);
          const collector = server.collector!;
          // Every request's time on the server, and those still open, for a wait that fails.
          const served: { what: string; ms: number }[] = [];
          const open = new Map<object, { what: string; at: number }>();
          server.app.addHook('onRequest', async (req) => {
            open.set(req, { what: `${req.method} ${req.url.split('?')[0]}`, at: Date.now() });
          });
          server.app.addHook('onResponse', async (req) => {
            const o = open.get(req);
            open.delete(req);
            if (o) served.push({ what: o.what, ms: Date.now() - o.at });
          });
          const serverSays = () =>
            `open on the server: ${[...open.values()].map((o) => `${o.what} for ${Date.now() - o.at} ms`).join(', ') || 'none'}; ` +
            `slowest served: ${[...served]
              .sort((a, b) => b.ms - a.ms)
              .slice(0, 5)
              .map((s) => `${s.what} ${s.ms} ms`)
              .join(', ')}`;
          const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
          const storedBefore = collector.flows;
          // The flows of the capture ingested before: what the overview counts before the replay.
          const series = await fetch(`${base}/v1/series`, {
            headers: { 'x-api-key': key },
            signal: AbortSignal.timeout(30_000),
          });
          assert.equal(series.status, 200);
          const [all] = ((await series.json()) as { series: { label: string; total: number }[] }).series;
          assert.equal(all.label, 'all flows in scope');
          const captured = all.total;
          assert.ok(captured > 0, 'the capture is in the store');

          // The replay, paced as the demo paces it: at RATE, and never more datagrams in flight than
          // half the receive buffer the kernel granted (4 KiB each, Linux reports double).
          const replayed = replay(
            join(dir, 'nf', 'export.pcap'),
            { host: '127.0.0.1', port: collector.port },
            RATE,
            undefined,
            {
              read: () => collector.datagramsRead(),
              datagrams: Math.max(16, Math.floor(collector.recvBuffer / 8192)),
            },
          );

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

          // Sign in while the replay runs (the page has no session yet: the sign-in form).
          await page.goto(base + '/');
          await page.getByLabel('API key').fill(key);
          await page.screenshot({ path: join(OUT, 'sign-in.png') });
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.getByRole('heading', { name: /^Overview/ }).waitFor();
          const cookies = await page.context().cookies();
          const session = cookies.find((c) => c.name === 'coinradar_session');
          assert.ok(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
          assert.equal(await page.evaluate('document.cookie'), '', 'scripts cannot read the session');
          step('signed in');

          // Every record sent is stored (the collector counts what it stored; bounded wait).
          const sent = await replayed;
          const deadline = Date.now() + 60_000;
          while (collector.flows - storedBefore < sent.records && Date.now() < deadline) await sleep(100);
          const stored = collector.flows - storedBefore;
          step(`replayed ${sent.records} records in ${sent.seconds.toFixed(1)} s, ${stored} stored`);
          assert.equal(stored, sent.records, 'every replayed record is stored');
          assert.equal(sent.records, exp.records);

          // The CLI reads the store serve holds, from another process, while it collects.
          const cliScreen = otherProcess([
            'screen',
            '--db',
            db,
            '--format',
            'json',
            '--exit-zero',
            '--chain-hops',
            '2',
            chain.a[0],
            chain.a[1],
            FRESH,
          ]);
          const cliSummary = otherProcess(['summary', '--db', db, '--by', 'country', '--top', '3']);

          // Overview, refreshed as the flows arrived (no reload): every flow, and the pools' onset is
          // the scenario's (17 May 2017).
          await page
            .locator('ul.surges > li', { hasText: `all flows in scope (${captured + stored} flows)` })
            .waitFor({ timeout: 30_000 });
          const onset = page.locator(
            'li.onset[data-series="catalogued mining pools (2018 catalogue)"][data-onset="2017-05-17"]',
          );
          await onset.waitFor({ timeout: 60_000 });
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
          // The country's name beside its code (the browser's region names).
          await page
            .getByRole('table', { name: /By country/ })
            .getByText('North Korea')
            .first()
            .waitFor({ timeout: 5000 });
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
          const outline = await page.evaluate<string>(
            'getComputedStyle(document.activeElement).outlineStyle',
          );
          assert.notEqual(outline, 'none');

          // Hosts: by keyboard (Enter on the link), the table sorted and filtered, the miner's link.
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

          // The miner's page: detections with rule, detail and list version, the payload excerpt.
          await page.getByRole('heading', { name: `Host ${miner.ip}` }).waitFor();
          const payloadDetection = page.locator('li.detection', { hasText: 'stratum / payload' }).first();
          await payloadDetection.waitFor({ timeout: 60_000 });
          assert.match(await payloadDetection.innerText(), /rule\s+stratum\./);
          await payloadDetection.locator('summary').first().click();
          assert.match(
            await payloadDetection.locator('pre.payload').first().innerText(),
            /mining\.(subscribe|authorize)/,
          );
          // The pool match came in over NetFlow (infrastructure evidence).
          await page.locator('li.detection', { hasText: 'stratum / infrastructure' }).first().waitFor();
          const artifacts = page.locator('section.artifacts');
          await artifacts.getByText(miner.wallet).waitFor();
          await artifacts.getByText(miner.pool).first().waitFor();
          await page.screenshot({ path: join(OUT, 'host.png'), fullPage: true });
          step('host page');

          // The wallet the miner was paid to → its money page on the regtest chain.
          await artifacts
            .locator('li', { hasText: miner.wallet })
            .getByRole('link', { name: 'trace' })
            .click();
          await page.getByRole('heading', { name: `Address ${miner.wallet}` }).waitFor();
          // Sanctions: a cluster match through alice's listed a1, naming the list and its version.
          const hit = page.locator('ul.hits li').first();
          await hit.waitFor({ timeout: 30_000 });
          assert.match(await hit.innerText(), /^cluster: test entity — watch v1/);
          assert.match(await hit.innerText(), new RegExp(`via ${chain.a[0]}`));
          const members = page.getByRole('table', { name: /^Cluster/ });
          await members.waitFor();
          assert.match(await members.locator('caption').innerText(), /^Cluster: [3-9] of [3-9]$/);
          assert.match(await members.innerText(), new RegExp(`${chain.a[0]}\\s+LISTED`));
          await page.getByRole('heading', { name: 'Exposure' }).waitFor();
          // The trace: one hop forward (alice's spend to bob), drawn and listed.
          const edges = page.locator('table.trace-edges tbody tr');
          await edges.first().waitFor({ timeout: 30_000 });
          await page.locator('.trace-graph canvas').first().waitFor();
          const before = await edges.count();
          const traceText = await page.locator('table.trace-edges').innerText();
          assert.match(traceText, new RegExp(chain.txs.alice_spend));
          assert.match(traceText, new RegExp(chain.b[0]), 'alice paid bob');
          assert.doesNotMatch(traceText, new RegExp(chain.b[1]), 'bob has not paid on yet');
          // Expand bob's address by keyboard (its Expand button, Enter): his peel chain's next step.
          const expandBob = page
            .locator('table.trace-edges tbody tr', { hasText: chain.b[0] })
            .getByRole('button', { name: 'Expand' })
            .first();
          await expandBob.focus();
          await page.keyboard.press('Enter');
          await page.locator('table.trace-edges', { hasText: chain.b[1] }).waitFor({ timeout: 30_000 });
          assert.ok((await edges.count()) > before, 'the trace grew by a hop');
          assert.match(await edges.last().innerText(), /^2\s/, 'the new edges are hop 2');
          await page.screenshot({ path: join(OUT, 'money.png'), fullPage: true });
          step('money page');

          // Search: an IP opens its host page; a txid its trace (the CoinJoin-like one, labelled).
          const search = page.getByPlaceholder('IP, CIDR, address, txid, pool');
          await search.fill(miner.ip);
          await page.keyboard.press('Enter');
          await page.getByRole('heading', { name: `Host ${miner.ip}` }).waitFor();
          assert.equal(new URL(page.url()).hash, `#/host/${miner.ip}`);
          await search.fill(chain.txs.coinjoin);
          await page.keyboard.press('Enter');
          await page.getByRole('heading', { name: `Transaction ${chain.txs.coinjoin}` }).waitFor();
          await page.getByLabel('Direction').selectOption('backward');
          await page.locator('table.trace-edges', { hasText: 'coinjoin-like' }).waitFor({ timeout: 30_000 });
          await page.screenshot({ path: join(OUT, 'money-coinjoin.png'), fullPage: true });
          step('search');

          // Screening: pasted addresses give what `coinradar screen` gives (the other process's run).
          await page.getByRole('link', { name: 'Screening' }).click();
          const addresses = page.getByLabel(/Addresses/);
          await addresses.fill(`${chain.a[0]}\n${chain.a[1]}\n${FRESH}`);
          // Two CI runs under load waited 30 s here for nothing: say what the page said and when
          // the POST went and came back.
          const screenCalls: string[] = [];
          const sentAt = Date.now();
          page.on('request', (r) => {
            if (r.url().endsWith('/v1/screen')) screenCalls.push(`sent at +${Date.now() - sentAt} ms`);
          });
          page.on('requestfinished', (r) => {
            if (r.url().endsWith('/v1/screen')) screenCalls.push(`answered at +${Date.now() - sentAt} ms`);
          });
          await page.getByRole('button', { name: 'Screen' }).click();
          const rows = page.locator('section[aria-label="screening result"] tbody tr');
          await rows
            .nth(2)
            .waitFor()
            .catch(async (e: Error) => {
              const said = await page.locator('.error').allTextContents();
              throw new Error(
                `${e.message}\nthe page said: ${said.join(' | ') || '(no error shown)'}\nthe browser: ${problems.join(' | ') || '(nothing)'}` +
                  `\nPOST /v1/screen: ${screenCalls.join(', ') || 'never sent'}; the addresses field: ${JSON.stringify(await addresses.inputValue())}` +
                  `\n${serverSays()}`,
              );
            });
          step(`screening answered (${screenCalls.join(', ')}); ${serverSays()}`);
          const cli = JSON.parse((await cliScreen).stdout) as ScreenResult[];
          assert.deepEqual(
            cli.map((r) => [r.address, r.matches.map((m) => m.kind)]),
            [
              [chain.a[0], ['exact']],
              [chain.a[1], ['cluster']],
              [FRESH, []],
            ],
          );
          for (let i = 0; i < 3; i++) {
            const text = await rows.nth(i).innerText();
            const r = cli[i];
            assert.match(text, new RegExp(`${r.address}\\s+${r.matched ? 'LISTED' : 'not listed'}`));
            for (const m of r.matches)
              assert.ok(text.includes(`${m.kind}: ${m.entity?.name}`), `${text} has ${m.kind}`);
          }
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
          if (process.env.COINRADAR_UPDATE_SCREENSHOT === '1') {
            copyFileSync(join(OUT, 'overview.png'), 'docs/img/console-overview.png');
            copyFileSync(join(OUT, 'money.png'), 'docs/img/console-money.png');
          }
          process.stderr.write(`e2e: screenshots in ${OUT}\n`);
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    passed = true;
  },
);
