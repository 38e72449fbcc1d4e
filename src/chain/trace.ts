/**
 * Following funds through spending transactions, hop by hop over the index.
 *
 * Taint policies:
 * - haircut (default): a transaction's outputs carry the tainted share of its inputs pro rata,
 *   tainted_out = value_out × tainted_in / value_in (forward); backward, a receipt is funded by
 *   every input in proportion to its value.
 * - poison: any tainted input taints every output in full.
 * One hop = one transaction. Nodes are addresses or clusters and transactions; edges carry the
 * value moved, the tainted part of it and the block time.
 */
import type { ChainStore, MoneyEdge, TxSummary } from '../store/chain.js';
import { policyLabel } from './cluster.js';
import type { TagSet } from './tags.js';

export type TaintPolicy = 'haircut' | 'poison';

/** A bound of a trace window: a block time (UNIX seconds) or a block height. */
export type TimeBound = { time: number } | { height: number };

/** Numbers below this are block heights, others UNIX seconds: Bitcoin's nLockTime rule. */
export const LOCKTIME_THRESHOLD = 500_000_000;

/**
 * A `--since`/`--until` value: an ISO 8601 date or date-time (UTC unless it gives an offset), or a
 * whole number — below 500,000,000 a block height, otherwise UNIX seconds (the nLockTime rule). A
 * bare date as an upper bound (`end`) means the end of that day (UTC), so `--until 2017-05-17`
 * includes the 17th.
 */
export function parseTimeBound(v: string, end = false): TimeBound {
  const s = v.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n < LOCKTIME_THRESHOLD ? { height: n } : { time: n };
  }
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(s);
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:\d{2})?)?$/.exec(s);
  // Date.parse rolls 30 February over into March: the calendar date must survive the round trip.
  const day = m ? Date.parse(`${m[1]}T00:00:00Z`) : NaN;
  const real = m !== null && !Number.isNaN(day) && new Date(day).toISOString().startsWith(m[1]);
  const ms = m && real ? Date.parse(m[2] ? `${m[1]}T${m[2]}${m[3] ?? 'Z'}` : m[1]) : NaN;
  if (Number.isNaN(ms))
    throw new Error(`${JSON.stringify(v)} is not an ISO date, a block height or UNIX seconds`);
  return { time: Math.floor(ms / 1000) + (end && dateOnly ? 86_399 : 0) };
}

const after = (b: TimeBound | undefined, time: number, height: number) =>
  b === undefined || ('time' in b ? time >= b.time : height >= b.height);
const before = (b: TimeBound | undefined, time: number, height: number) =>
  b === undefined || ('time' in b ? time <= b.time : height <= b.height);

export interface TraceOptions {
  direction: 'forward' | 'backward';
  hops: number;
  /** Skip edges whose tainted value is below this (satoshis). */
  minValue?: number;
  /** Only transactions at or after `since` and at or before `until` (block time or height). */
  since?: TimeBound;
  until?: TimeBound;
  level: 'address' | 'cluster';
  policy: TaintPolicy;
}

export interface TraceNode {
  id: string;
  kind: 'address' | 'cluster' | 'transaction';
  label: string;
  tags: string[];
  hop: number;
}

export interface TraceEdge {
  from: string;
  to: string;
  value: number;
  tainted: number;
  time: string;
  height: number;
  hop: number;
}

export interface TraceGraph {
  seed: string;
  direction: 'forward' | 'backward';
  level: 'address' | 'cluster';
  policy: TaintPolicy;
  heuristics: string[];
  hops: number;
  nodes: TraceNode[];
  edges: TraceEdge[];
}

export type Seed =
  { kind: 'address'; addressIds: number[]; label: string } | { kind: 'tx'; txId: number; label: string };

interface Front {
  edge: MoneyEdge;
  taint: number; // fraction of edge.value that is tainted
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

export async function trace(
  store: ChainStore,
  seed: Seed,
  opts: TraceOptions,
  tags?: TagSet,
): Promise<TraceGraph> {
  const st = await store.state();
  const nodes = new Map<string, TraceNode>();
  const edges: TraceEdge[] = [];
  const clusterCache = new Map<number, number>();
  const holderIds = new Set<number>();
  const minValue = opts.minValue ?? 0;
  const inWindow = (x: { time: number; height: number }) =>
    after(opts.since, x.time, x.height) && before(opts.until, x.time, x.height);

  const holder = async (addressId: number): Promise<string> => {
    holderIds.add(addressId);
    if (opts.level === 'address') return `a:${addressId}`;
    let c = clusterCache.get(addressId);
    if (c === undefined) {
      c = (await store.clusterOf(addressId)) ?? addressId;
      clusterCache.set(addressId, c);
    }
    return `c:${c}`;
  };
  const txNode = (s: TxSummary, hop: number) => {
    const id = `t:${s.txId}`;
    if (!nodes.has(id))
      nodes.set(id, {
        id,
        kind: 'transaction',
        label: s.txid,
        tags: s.flags & 4 ? ['coinjoin-like'] : s.flags & 1 ? ['coinbase'] : [],
        hop,
      });
    return id;
  };
  const holderNode = (id: string, hop: number) => {
    if (!nodes.has(id))
      nodes.set(id, { id, kind: id.startsWith('a:') ? 'address' : 'cluster', label: '', tags: [], hop });
    return id;
  };

  let seedAddresses: number[];
  let front: Front[];
  if (seed.kind === 'address') {
    seedAddresses = seed.addressIds;
    if (opts.level === 'cluster' && seedAddresses.length === 1) {
      const c = await store.clusterOf(seedAddresses[0]);
      if (c !== null) seedAddresses = await store.clusterMembers(c);
    }
    const received = (await store.outputsTo(seedAddresses)).filter(inWindow);
    for (const e of received) holderNode(await holder(e.addressId), 0);
    front = received.map((e) => ({ edge: e, taint: 1 }));
  } else {
    const [s] = (await store.txSummaries([seed.txId])).values();
    txNode(s, 0);
    const edgesOf =
      opts.direction === 'forward' ? await store.outputsOf([seed.txId]) : await store.inputsOf([seed.txId]);
    for (const e of edgesOf) {
      const h = holderNode(await holder(e.addressId), 1);
      const value = e.value;
      edges.push(
        opts.direction === 'forward'
          ? {
              from: `t:${seed.txId}`,
              to: h,
              value,
              tainted: value,
              time: iso(s.time),
              height: s.height,
              hop: 1,
            }
          : {
              from: h,
              to: `t:${seed.txId}`,
              value,
              tainted: value,
              time: iso(s.time),
              height: s.height,
              hop: 1,
            },
      );
    }
    front = edgesOf.map((e) => ({ edge: e, taint: 1 }));
  }

  const seenTx = new Set<number>(seed.kind === 'tx' ? [seed.txId] : []);
  const startHop = seed.kind === 'tx' ? 1 : 0;
  for (let hop = startHop + 1; hop <= opts.hops && front.length > 0; hop++) {
    const next: Front[] = [];
    if (opts.direction === 'forward') {
      // Group the tainted outputs by the transaction that spends them.
      const bySpender = new Map<number, Front[]>();
      for (const f of front) {
        if (f.edge.spentByTx === null || seenTx.has(f.edge.spentByTx)) continue;
        const list = bySpender.get(f.edge.spentByTx);
        if (list) list.push(f);
        else bySpender.set(f.edge.spentByTx, [f]);
      }
      const txIds = [...bySpender.keys()];
      const sums = await store.txSummaries(txIds);
      const outs = await store.outputsOf(txIds.filter((t) => inWindow(sums.get(t)!)));
      const outsByTx = new Map<number, MoneyEdge[]>();
      for (const o of outs) {
        const l = outsByTx.get(o.txId);
        if (l) l.push(o);
        else outsByTx.set(o.txId, [o]);
      }
      for (const [t, fs] of bySpender) {
        const s = sums.get(t)!;
        if (!inWindow(s)) continue;
        seenTx.add(t);
        const taintedIn = fs.reduce((a, f) => a + f.edge.value * f.taint, 0);
        if (taintedIn < minValue) continue;
        const tn = txNode(s, hop);
        for (const f of fs) {
          const from = await holder(f.edge.addressId);
          holderNode(from, hop - 1);
          edges.push({
            from,
            to: tn,
            value: f.edge.value,
            tainted: f.edge.value * f.taint,
            time: iso(s.time),
            height: s.height,
            hop,
          });
        }
        const share = opts.policy === 'poison' ? 1 : s.inValue > 0 ? taintedIn / s.inValue : 0;
        for (const o of outsByTx.get(t) ?? []) {
          if (o.addressId === null) continue;
          const tainted = o.value * share;
          if (tainted < minValue) continue;
          const to = holderNode(await holder(o.addressId), hop);
          edges.push({ from: tn, to, value: o.value, tainted, time: iso(s.time), height: s.height, hop });
          next.push({ edge: o, taint: share });
        }
      }
    } else {
      // Backward: each received output was made by a transaction funded by its inputs.
      const byMaker = new Map<number, Front[]>();
      for (const f of front) {
        if (seenTx.has(f.edge.txId)) continue;
        const list = byMaker.get(f.edge.txId);
        if (list) list.push(f);
        else byMaker.set(f.edge.txId, [f]);
      }
      const txIds = [...byMaker.keys()];
      const sums = await store.txSummaries(txIds);
      const ins = await store.inputsOf(txIds.filter((t) => inWindow(sums.get(t)!)));
      const insByTx = new Map<number, MoneyEdge[]>();
      for (const i of ins) {
        const l = insByTx.get(i.spentByTx!);
        if (l) l.push(i);
        else insByTx.set(i.spentByTx!, [i]);
      }
      for (const [t, fs] of byMaker) {
        const s = sums.get(t)!;
        if (!inWindow(s)) continue;
        seenTx.add(t);
        const tn = txNode(s, hop);
        const traced = fs.reduce((a, f) => a + f.edge.value * f.taint, 0);
        if (traced < minValue) continue;
        for (const f of fs) {
          const to = await holder(f.edge.addressId);
          holderNode(to, hop - 1);
          edges.push({
            from: tn,
            to,
            value: f.edge.value,
            tainted: f.edge.value * f.taint,
            time: iso(s.time),
            height: s.height,
            hop,
          });
        }
        const share = opts.policy === 'poison' ? 1 : s.outValue > 0 ? traced / s.outValue : 0;
        for (const i of insByTx.get(t) ?? []) {
          const tainted = i.value * share;
          if (tainted < minValue) continue;
          const from = holderNode(await holder(i.addressId), hop);
          edges.push({ from, to: tn, value: i.value, tainted, time: iso(i.time), height: i.height, hop });
          next.push({ edge: i, taint: share });
        }
      }
    }
    front = next;
  }

  // Labels and tags of holders.
  const texts = await store.addressTexts([...holderIds]);
  const clusterSizes = new Map<string, number>();
  for (const a of holderIds) {
    const id = opts.level === 'address' ? `a:${a}` : `c:${clusterCache.get(a) ?? a}`;
    clusterSizes.set(id, (clusterSizes.get(id) ?? 0) + 1);
    const n = nodes.get(id);
    if (!n) continue;
    const text = texts.get(a) ?? '';
    if (opts.level === 'address') n.label = text;
    else if (!n.label || text < n.label) n.label = text;
    for (const tag of tags?.labelsOf(text) ?? []) if (!n.tags.includes(tag)) n.tags.push(tag);
  }
  for (const n of nodes.values())
    if (n.kind === 'cluster')
      n.label = `cluster ${n.id.slice(2)} (${n.label}${clusterSizes.get(n.id)! > 1 ? ' …' : ''})`;
  return {
    seed: seed.label,
    direction: opts.direction,
    level: opts.level,
    policy: opts.policy,
    heuristics: opts.level === 'cluster' ? policyLabel(st.clusterPolicy) : [],
    hops: opts.hops,
    nodes: [...nodes.values()],
    edges,
  };
}
