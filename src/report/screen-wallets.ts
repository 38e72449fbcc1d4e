/**
 * Network artifacts meet the sanctions lists: every wallet the report names (from Stratum logins)
 * is screened against the list versions stored in the same database, and the result is written
 * into the wallet row, a finding and the evidence table.
 */
import { buildScreeningIndex } from '../sanctions/index-loader.js';
import type { ScreeningIndex, ScreenResult } from '../sanctions/screen.js';
import { openSanctionsStore } from '../store/sanctions.js';
import type { InvestigationReport } from './model.js';

export interface WalletScreening {
  lists: string;
  screened: number;
  listed: ScreenResult[];
}

function describe(r: ScreenResult): string {
  return r.matches
    .map(
      (m) =>
        `${m.kind} match: ${m.entity ? `${m.entity.name} (${m.entity.programs.join(', ')})` : m.listedAddress} — ${m.list} v${m.versionId}`,
    )
    .join('; ');
}

/** Screen the report's wallets; returns null (and changes nothing) when the database holds no list. */
export async function screenReportWallets(
  db: string,
  report: InvestigationReport,
): Promise<WalletScreening | null> {
  const store = await openSanctionsStore(db);
  let index;
  let lists: string;
  try {
    const current = await store.currentVersions();
    if (current.length === 0) return null;
    lists = current.map((v) => `${v.list} v${v.id} (${v.published ?? 'date unknown'})`).join(', ');
    index = await buildScreeningIndex(store, current);
  } finally {
    await store.close();
  }
  return screenWalletsWith(index, lists, report);
}

/** The same, against an index already loaded (serve's); `lists` names its versions. */
export function screenWalletsWith(
  index: ScreeningIndex,
  lists: string,
  report: InvestigationReport,
): WalletScreening {
  const results = index.screenAddresses(report.wallets.map((w) => w.wallet));
  const listed: ScreenResult[] = [];
  results.forEach((r, i) => {
    report.wallets[i].screening = r.matched ? `LISTED: ${describe(r)}` : 'not listed';
    if (r.matched) listed.push(r);
  });
  const claim =
    listed.length === 0
      ? `None of the ${results.length} wallet(s) is on the sanctions lists loaded (${lists}).`
      : `${listed.length} of ${results.length} wallet(s) are on the sanctions lists: ${listed.map((r) => `${r.address} → ${describe(r)}`).join('; ')}.`;
  report.findings.push(claim);
  report.evidence.push({
    claim,
    support: [
      {
        kind: 'query',
        ref: `coinradar screen ${report.wallets.map((w) => w.wallet).join(' ')}`,
        detail: lists,
      },
    ],
  });
  return { lists, screened: results.length, listed };
}
