/**
 * One rule for the coin of a flow. Several sources may name a coin — the wallet in a login, the
 * protocol, the pool catalogue, the pool's name, the mining software, the port — and they can
 * disagree (cgminer is a Bitcoin miner, but the catalogue knows the pool it talks to as a Monero
 * pool). The flow's coin comes from the strongest source:
 *
 *   protocol evidence in the payload (wallet address shape, network magic or id, Stratum dialect,
 *   an RPC method of one coin) > pool (catalogue entry, pool list entry, the pool's host name)
 *   > mining software (agent) > port
 *
 * Inside a class: wallet > network > protocol > dialect > method; catalogue > list > pool. When
 * the winner names several coins (`ETC|ETH`, a multi-coin catalogue port) and a weaker source names one of
 * them, that one is taken. Every detection of the flow carries the flow's coin; every source's
 * claim is kept in the evidence (`coinSources`) when there was more than one.
 */
import type { Detection } from './types.js';

/** A source's claim: which coin, from what. */
export interface CoinClaim {
  from: string;
  coin: string;
}

/**
 * Strength of each source (higher wins): the class (3 protocol, 2 pool, 1 agent, 0 port), then an
 * order inside the class, so the choice never depends on which detection came first.
 */
const RANK = new Map<string, number>([
  ['wallet', 3.5],
  ['network', 3.4],
  ['protocol', 3.3],
  ['dialect', 3.2],
  ['method', 3.1],
  ['catalogue', 2.3],
  ['list', 2.2],
  ['pool', 2.1],
  ['agent', 1],
  ['port', 0],
]);

/** The rank of a source; "X (earlier flow of the connection)" and "X+Y" (narrowed) rank as X. */
export function coinRank(from: string): number {
  const m = /^[a-z]+/.exec(from);
  return (m && RANK.get(m[0])) ?? 0;
}

/** The winning claim of a list (empty coins ignored), narrowed as above; null when none names a coin. */
export function bestClaim(claims: readonly CoinClaim[]): CoinClaim | null {
  let best: CoinClaim | null = null;
  for (const c of claims) if (c.coin && (!best || coinRank(c.from) > coinRank(best.from))) best = c;
  if (!best || !best.coin.includes('|')) return best;
  const alts = best.coin.split('|');
  const narrower = claims.find((c) => c !== best && c.coin && !c.coin.includes('|') && alts.includes(c.coin));
  return narrower ? { from: `${best.from}+${narrower.from}`, coin: narrower.coin } : best;
}

/** What a detection claims, when its matcher did not list its claims. */
function defaultFrom(d: Detection): string {
  if (d.confidence === 'port') return 'port';
  if (d.evidence.rule === 'infrastructure.list') return 'catalogue';
  if (d.confidence === 'infrastructure') return 'list';
  return 'network';
}

/** The claims a detection makes: its matcher's list (`coinClaims`), else its coin and `coinFrom`. */
export function claimsOf(d: Detection): CoinClaim[] {
  const listed = d.evidence.coinClaims;
  if (Array.isArray(listed)) return listed as CoinClaim[];
  if (!d.coin) return [];
  const from = typeof d.evidence.coinFrom === 'string' ? d.evidence.coinFrom : defaultFrom(d);
  return [{ from, coin: d.coin }];
}

/**
 * Give every detection of one flow the flow's coin. Behaviour detections carry none and are left
 * alone. `coinFrom` names the winning source; `coinSources` lists every claim when there were
 * several, each with the detection (label/confidence) that made it.
 */
export function resolveFlowCoin(dets: Detection[]): void {
  if (dets.length === 0) return;
  // Most flows have one detection that lists no claims: its own coin stands, nothing to allocate.
  if (dets.length === 1 && !Array.isArray(dets[0].evidence.coinClaims)) {
    const d = dets[0];
    if (d.coin && d.confidence !== 'behaviour' && typeof d.evidence.coinFrom !== 'string')
      d.evidence.coinFrom = defaultFrom(d);
    return;
  }
  const sources: (CoinClaim & { by: string })[] = [];
  for (const d of dets)
    for (const c of claimsOf(d))
      if (c.coin) sources.push({ from: c.from, coin: c.coin, by: `${d.label}/${d.confidence}` });
  const best = bestClaim(sources);
  if (!best) return;
  for (const d of dets) {
    if (d.confidence === 'behaviour') continue;
    d.coin = best.coin;
    d.evidence.coinFrom = best.from;
    delete d.evidence.coinClaims;
    // One list shared by the flow's detections (stored as JSON, each row gets its own copy).
    if (sources.length > 1) d.evidence.coinSources = sources;
  }
}
