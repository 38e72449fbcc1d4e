/**
 * The money page in chromium on a litecoind regtest chain (issue 11: "opens a wallet's trace"):
 * the history of test/chain indexed, alice's first address on a list; the page of her second
 * address shows its cluster, the `cluster` sanctions hit with the list and its version, its
 * exposure, and a trace graph that grows when a node is expanded (by keyboard: the Expand button);
 * a txid typed in the search box opens its trace. No console error. Needs `npm run build`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer } from '../../src/cli/serve.js';
import { DEFAULT_CONSOLE_DIR } from '../../src/server/console-files.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { litecoindMissing } from '../chain/regtest-node.js';
import { regtestChainStore } from '../server/regtest-chain.js';
import { CHROMIUM, CHROMIUM_ARGS, exitAfterTests, signIn, skipWithoutChromium } from './chromium.js';

const OUT = process.env.COINRADAR_TEST_OUT ?? join(tmpdir(), 'coinradar-console-e2e');

let passed = false;
exitAfterTests('money', () => passed);

test(
  'the money page in chromium on a litecoind regtest chain: cluster, sanctions hit with list and version, exposure, a trace expanded hop by hop, a txid found by search',
  { skip: skipWithoutChromium || litecoindMissing() || false, timeout: 300_000 },
  async () => {
    assert.ok(existsSync(join(DEFAULT_CONSOLE_DIR, 'index.html')), 'run npm run build first');
    const { chromium } = await import('playwright-core');
    const dir = mkdtempSync(join(tmpdir(), 'cr-money-ui-'));
    mkdirSync(OUT, { recursive: true });
    const db = join(dir, 'db.duckdb');
    const truth = await regtestChainStore(dir, db);
    try {
      const { key } = new ApiKeyFile(keysPathFor(db)).create('money ui');
      const server = await openScreeningServer({
        db,
        rate: 0,
        chainHops: 2,
        audit: join(dir, 'audit.jsonl'),
      });
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
      try {
        const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
        const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
        const problems = await signIn(page, base, key);

        await page.goto(`${base}/#/money/${truth.a[1]}`);
        await page.getByRole('heading', { name: `Address ${truth.a[1]}` }).waitFor();
        // Sanctions: a cluster match, naming the list and its version.
        const hit = page.locator('ul.hits li').first();
        await hit.waitFor({ timeout: 30_000 });
        assert.match(await hit.innerText(), /^cluster: test entity — watch v1/);
        assert.match(await hit.innerText(), new RegExp(`via ${truth.a[0]}`));
        // The cluster: alice's addresses, the listed one marked.
        const members = page.getByRole('table', { name: /^Cluster/ });
        await members.waitFor();
        assert.match(await members.locator('caption').innerText(), /^Cluster: [3-9] of [3-9]$/);
        assert.match(await members.innerText(), new RegExp(`${truth.a[0]}\\s+LISTED`));
        await page.getByRole('heading', { name: 'Exposure' }).waitFor();
        // The trace: one hop forward (alice's spend), drawn and listed.
        const edges = page.locator('table.trace-edges tbody tr');
        await edges.first().waitFor({ timeout: 30_000 });
        await page.locator('.trace-graph canvas').first().waitFor();
        const before = await edges.count();
        const traceText = await page.locator('table.trace-edges').innerText();
        assert.match(traceText, new RegExp(truth.txs.alice_spend));
        assert.match(traceText, new RegExp(truth.b[0]), 'alice paid bob');
        assert.doesNotMatch(traceText, new RegExp(truth.b[1]), 'bob has not paid on yet');
        // Expand bob's address by keyboard (its Expand button, Enter): his peel chain's next step.
        const expandBob = page
          .locator('table.trace-edges tbody tr', { hasText: truth.b[0] })
          .getByRole('button', { name: 'Expand' })
          .first();
        await expandBob.focus();
        await page.keyboard.press('Enter');
        await page.locator('table.trace-edges', { hasText: truth.b[1] }).waitFor({ timeout: 30_000 });
        assert.ok((await edges.count()) > before, 'the trace grew by a hop');
        assert.match(await edges.last().innerText(), /^2\s/, 'the new edges are hop 2');
        await page.screenshot({ path: join(OUT, 'money.png'), fullPage: true });

        // Search: the CoinJoin-like transaction's txid opens its trace, labelled.
        await page.getByPlaceholder('IP, CIDR, address, txid, pool').fill(truth.txs.coinjoin);
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { name: `Transaction ${truth.txs.coinjoin}` }).waitFor();
        await page.getByLabel('Direction').selectOption('backward');
        await page.locator('table.trace-edges', { hasText: 'coinjoin-like' }).waitFor({ timeout: 30_000 });
        await page.screenshot({ path: join(OUT, 'money-coinjoin.png'), fullPage: true });
        assert.deepEqual(problems, []);
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
