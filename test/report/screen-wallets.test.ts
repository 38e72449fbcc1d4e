import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { InvestigationReport } from '../../src/report/model.js';
import { renderHtml, renderMarkdown } from '../../src/report/render.js';
import { screenReportWallets } from '../../src/report/screen-wallets.js';
import { loadListFiles } from '../../src/sanctions/load.js';
import { openSanctionsStore } from '../../src/store/sanctions.js';

const FIX = 'test/fixtures/sanctions';

function report(wallets: string[]): InvestigationReport {
  return {
    title: 't',
    generatedAt: '2026-11-21T00:00:00Z',
    scope: 's',
    period: { from: '2017-04-01', to: '2017-06-29' },
    findings: [],
    timelines: [],
    hosts: [],
    pools: [],
    wallets: wallets.map((w) => ({
      wallet: w,
      coin: 'BTC',
      hosts: ['175.45.176.9'],
      workers: [],
      evidence: 'e',
    })),
    estimates: [],
    evidence: [],
    notes: [],
  } as InvestigationReport;
}

test('wallets in a report are screened against the lists in the database and flagged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-screen-report-'));
  try {
    const db = join(dir, 'db.duckdb');
    // No list loaded: nothing is claimed either way.
    const r0 = report(['134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak']);
    assert.equal(await screenReportWallets(db, r0), null);
    assert.equal(r0.wallets[0].screening, undefined);

    const store = await openSanctionsStore(db);
    try {
      const files = ['sdn.csv', 'add.csv', 'alt.csv'].map((f) => join(FIX, f));
      await store.saveVersion(
        await loadListFiles(files, { published: '2022-01', diagnostics: new Diagnostics() }),
      );
    } finally {
      await store.close();
    }
    // 134r8i… is TIAN Yinyin's (Lazarus Group launderer, CYBER2/DPRK3) on the January 2022 SDN list; the other is not.
    const r = report(['134r8iHv69xdT6p5qVKTsHrcUEuBVZAYak', '1AJ3dBn5oLBdMfZGCSwQ5uan2eDy8zz32X']);
    const s = await screenReportWallets(db, r);
    assert.ok(s);
    assert.equal(s.screened, 2);
    assert.equal(s.listed.length, 1);
    assert.match(r.wallets[0].screening ?? '', /^LISTED: exact match: TIAN, Yinyin .*(DPRK3|CYBER2)/);
    assert.equal(r.wallets[1].screening, 'not listed');
    assert.match(r.findings.at(-1) ?? '', /1 of 2 wallet\(s\) are on the sanctions lists: 134r8i/);
    assert.match(renderHtml(r), /<strong>LISTED: exact match/);
    assert.match(renderMarkdown(r), /\| not listed \|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
