/**
 * Mining-pool attribution and payouts. A pool is recognised from the coinbase text of the blocks
 * it mined (known tags below, or a user pool file `address,pool`), and its coinbase payout
 * addresses are the pool's addresses. A payout is a transaction that spends an output held by a
 * pool address and pays the target; a coinbase output paying the target directly counts too.
 */
import type { ChainStore } from '../store/chain.js';

/** Coinbase-text fragments of well-known pools (mainnet Bitcoin and Litecoin). */
export const KNOWN_POOL_TAGS: [string, string][] = [
  ['Foundry USA', 'Foundry USA'],
  ['AntPool', 'AntPool'],
  ['F2Pool', 'F2Pool'],
  ['七彩神仙鱼', 'F2Pool'],
  ['/ViaBTC/', 'ViaBTC'],
  ['/slush/', 'Braiins (Slush Pool)'],
  ['/BTC.COM/', 'BTC.com'],
  ['/Binance/', 'Binance Pool'],
  ['Poolin', 'Poolin'],
  ['MARA Pool', 'MARA Pool'],
  ['Luxor', 'Luxor'],
  ['SpiderPool', 'SpiderPool'],
  ['BitFury', 'BitFury'],
  ['/BW Pool/', 'BW.com'],
  ['/BTCC/', 'BTCC'],
  ['HaoBTC', 'HaoBTC'],
  ['KanoPool', 'KanoPool'],
  ['litecoinpool.org', 'litecoinpool.org'],
  ['LTC.TOP', 'LTC.TOP'],
];

export function poolFromCoinbase(text: string, extra: [string, string][] = []): string | null {
  for (const [frag, name] of [...extra, ...KNOWN_POOL_TAGS]) if (text.includes(frag)) return name;
  // An unknown tag between slashes is how pools sign blocks: use it as the name.
  const m = /\/([^/]{3,40})\//.exec(text);
  return m ? m[1] : null;
}

export interface PoolAttribution {
  /** address id → pool name (most frequent over its coinbase receipts). */
  byAddress: Map<number, string>;
  blocks: Map<string, number>;
}

export async function attributePools(
  store: ChainStore,
  poolAddresses = new Map<string, string>(),
): Promise<PoolAttribution> {
  const rows = await store.coinbaseRecipients();
  const votes = new Map<number, Map<string, number>>();
  const blocks = new Map<string, number>();
  const texts = await store.addressTexts([...new Set(rows.map((r) => r.addressId))]);
  for (const r of rows) {
    const name =
      poolAddresses.get(texts.get(r.addressId) ?? '') ?? poolFromCoinbase(r.coinbaseText) ?? 'unknown pool';
    let v = votes.get(r.addressId);
    if (!v) votes.set(r.addressId, (v = new Map()));
    v.set(name, (v.get(name) ?? 0) + 1);
  }
  const byAddress = new Map<number, string>();
  for (const [a, v] of votes) {
    const best = [...v].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))[0][0];
    byAddress.set(a, best);
    blocks.set(best, (blocks.get(best) ?? 0) + [...v.values()].reduce((s, n) => s + n, 0));
  }
  return { byAddress, blocks };
}

export interface Payout {
  time: string;
  height: number;
  txid: string;
  address: string;
  value: number;
  pool: string;
  kind: 'coinbase' | 'payout';
  /** The pool address the payout was paid from. */
  from: string | null;
}

export async function payoutsTo(
  store: ChainStore,
  targets: number[],
  pools: PoolAttribution,
): Promise<Payout[]> {
  const receipts = await store.outputsTo(targets);
  const txIds = [...new Set(receipts.map((r) => r.txId))];
  const inputs = await store.inputsOf(txIds);
  const summaries = await store.txSummaries(txIds);
  // The spending tx of each input edge is its spentByTx.
  const poolInputs = new Map<number, number>(); // tx id → pool address id
  for (const i of inputs)
    if (i.spentByTx !== null && pools.byAddress.has(i.addressId) && !poolInputs.has(i.spentByTx))
      poolInputs.set(i.spentByTx, i.addressId);
  const names = await store.addressTexts([...new Set([...targets, ...poolInputs.values()])]);
  const out: Payout[] = [];
  for (const r of receipts) {
    const s = summaries.get(r.txId)!;
    const coinbase = (s.flags & 1) !== 0;
    const fromPool = poolInputs.get(r.txId);
    if (!coinbase && (fromPool === undefined || fromPool === r.addressId)) continue;
    const pool = coinbase
      ? (pools.byAddress.get(r.addressId) ?? 'unknown pool')
      : pools.byAddress.get(fromPool!)!;
    out.push({
      time: new Date(s.time * 1000).toISOString().replace('.000Z', 'Z'),
      height: s.height,
      txid: s.txid,
      address: names.get(r.addressId) ?? '',
      value: r.value,
      pool,
      kind: coinbase ? 'coinbase' : 'payout',
      from: coinbase ? null : (names.get(fromPool!) ?? null),
    });
  }
  return out;
}
