/**
 * Exposure: the share of the funds a target (address or cluster) received that came from tagged
 * sources within k hops. Walks backward from every receipt; at each transaction the receipt's
 * amount is attributed to the inputs (haircut: in proportion to input value; poison: the whole
 * receipt counts as exposed if any path within k hops reaches the tag). The first tagged address
 * on a path is the source: its funds are not traced further back.
 */
import type { ChainStore, MoneyEdge } from '../store/chain.js';
import { policyLabel } from './cluster.js';
import type { TagSet } from './tags.js';
import type { TaintPolicy } from './trace.js';

export interface ExposureRow {
  tag: string;
  /** Received value attributed to the tag (satoshis). */
  value: number;
  share: number;
  /** Smallest hop count at which the tag was reached. */
  minHops: number;
  sources: string[];
}

export interface ExposureResult {
  target: string;
  level: 'address' | 'cluster';
  policy: TaintPolicy;
  hops: number;
  heuristics: string[];
  received: number;
  receipts: number;
  exposure: ExposureRow[];
}

interface Front {
  edge: MoneyEdge;
  weight: number;
  root: number;
}

export async function exposure(
  store: ChainStore,
  target: { addressIds: number[]; label: string; level: 'address' | 'cluster' },
  tags: TagSet,
  opts: { hops: number; policy: TaintPolicy },
): Promise<ExposureResult> {
  const st = await store.state();
  const targetSet = new Set(target.addressIds);
  const receipts = await store.outputsTo(target.addressIds);
  const received = receipts.reduce((s, r) => s + r.value, 0);
  const rows = new Map<
    string,
    { value: number; minHops: number; sources: Set<string>; roots: Set<number> }
  >();
  let front: Front[] = receipts.map((e, i) => ({ edge: e, weight: e.value, root: i }));
  const textCache = new Map<number, string>();
  for (let hop = 1; hop <= opts.hops && front.length > 0; hop++) {
    const makers = [...new Set(front.map((f) => f.edge.txId))];
    const sums = await store.txSummaries(makers);
    const inputs = await store.inputsOf(makers);
    const missing = [...new Set(inputs.map((i) => i.addressId))].filter(
      (a) => a !== null && !textCache.has(a),
    );
    for (const [id, t] of await store.addressTexts(missing)) textCache.set(id, t);
    const byTx = new Map<number, MoneyEdge[]>();
    for (const i of inputs) {
      const l = byTx.get(i.spentByTx!);
      if (l) l.push(i);
      else byTx.set(i.spentByTx!, [i]);
    }
    const next: Front[] = [];
    for (const f of front) {
      const s = sums.get(f.edge.txId)!;
      const ins = byTx.get(f.edge.txId) ?? [];
      if (s.inValue <= 0) continue; // coinbase: newly mined, no earlier source
      for (const i of ins) {
        const part = opts.policy === 'poison' ? f.weight : (f.weight * i.value) / s.inValue;
        const text = i.addressId === null ? '' : (textCache.get(i.addressId) ?? '');
        const found = text && !targetSet.has(i.addressId) ? tags.tagsOf(text) : [];
        if (found.length > 0) {
          for (const tag of found) {
            let r = rows.get(tag);
            if (!r) rows.set(tag, (r = { value: 0, minHops: hop, sources: new Set(), roots: new Set() }));
            if (opts.policy === 'haircut') r.value += part;
            r.roots.add(f.root);
            r.minHops = Math.min(r.minHops, hop);
            r.sources.add(text);
          }
        } else {
          next.push({ edge: i, weight: part, root: f.root });
        }
      }
    }
    front = next;
  }
  const out: ExposureRow[] = [];
  for (const [tag, r] of rows) {
    const value =
      opts.policy === 'poison' ? [...r.roots].reduce((s, k) => s + receipts[k].value, 0) : r.value;
    out.push({
      tag,
      value: Math.round(value),
      share: received > 0 ? value / received : 0,
      minHops: r.minHops,
      sources: [...r.sources].sort(),
    });
  }
  out.sort((a, b) => b.share - a.share || a.tag.localeCompare(b.tag));
  return {
    target: target.label,
    level: target.level,
    policy: opts.policy,
    hops: opts.hops,
    heuristics: target.level === 'cluster' ? policyLabel(st.clusterPolicy) : [],
    received,
    receipts: receipts.length,
    exposure: out,
  };
}
