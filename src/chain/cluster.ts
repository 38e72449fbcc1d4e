/**
 * Address clustering with union-find over dense address ids.
 *
 * Base heuristic (always on): common-input ownership — all addresses spending in one transaction
 * belong to one owner — except transactions that look like CoinJoin (see coinjoin.ts), which are
 * skipped and counted.
 * Policy (opt-in, off by default): change detection "fresh address": in a two-output, non-CoinJoin
 * transaction where exactly one output address appears for the first time, the other output
 * address was seen before, and neither output goes back to an input address, the fresh output is
 * taken as change and
 * joins the inputs' cluster. It is a guess; every result made with it says so.
 *
 * A cluster's id is the smallest address id in it. Clusters are persisted and updated
 * incrementally: the stored assignment is the starting forest, only transactions after the last
 * clustered one are folded in, and only addresses whose cluster changed are written.
 */
import type { ChainStore } from '../store/chain.js';

export interface ClusterPolicy {
  /** Opt-in change-address heuristic (fresh address). */
  change: boolean;
}

export const BASE_POLICY: ClusterPolicy = { change: false };

export function policyName(p: ClusterPolicy): string {
  return p.change ? 'common-input+change:fresh-address' : 'common-input';
}

/** The heuristics a cluster result was made with, for labelling every output. */
export function policyLabel(name: string | null): string[] {
  if (!name) return [];
  return name.split('+').map((h) => (h.startsWith('change:') ? `${h} (opt-in policy, a guess)` : h));
}

export class UnionFind {
  readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
  }
  find(a: number): number {
    const p = this.parent;
    while (p[a] !== a) {
      p[a] = p[p[a]];
      a = p[a];
    }
    return a;
  }
  /** Join the sets of a and b; the smaller id becomes the root. Returns true if they were apart. */
  union(a: number, b: number): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return false;
    if (ra < rb) this.parent[rb] = ra;
    else this.parent[ra] = rb;
    return true;
  }
}

export interface ClusterUpdate {
  policy: string;
  txsFolded: number;
  coinjoinSkipped: number;
  changeLinks: number;
  addressesWritten: number;
  full: boolean;
}

export async function updateClusters(
  store: ChainStore,
  policy: ClusterPolicy = BASE_POLICY,
): Promise<ClusterUpdate> {
  const st = await store.state();
  const name = policyName(policy);
  const full = st.clusterPolicy !== name;
  const after = full ? -1 : st.clusteredTx;
  const n = st.addresses;
  const before = full ? new Int32Array(n).fill(-1) : await store.clusterAssignment();
  const uf = new UnionFind(n);
  for (let a = 0; a < n; a++) if (before[a] >= 0) uf.parent[a] = before[a];
  const { txId, addressId, coinjoinTxs } = await store.clusterInputs(after);
  let skipped = 0;
  let folded = 0;
  for (let i = 0; i < txId.length;) {
    const t = txId[i];
    let j = i + 1;
    while (j < txId.length && txId[j] === t) j++;
    if (coinjoinTxs.has(t)) skipped++;
    else {
      for (let k = i + 1; k < j; k++) uf.union(addressId[i], addressId[k]);
      folded++;
    }
    i = j;
  }
  let changeLinks = 0;
  if (policy.change) {
    for (const c of await store.changeCandidates(after)) {
      if (c.outputs.length !== 2 || c.inputs.length === 0) continue;
      const fresh = c.outputs.filter((o) => o.firstTx);
      if (fresh.length !== 1) continue;
      const change = fresh[0].addressId;
      // Change sent back to an input address already shows the owner: no guess needed.
      if (c.outputs.some((o) => c.inputs.includes(o.addressId))) continue;
      if (uf.union(change, c.inputs[0])) changeLinks++;
    }
  }
  const changedA: number[] = [];
  const changedC: number[] = [];
  for (let a = 0; a < n; a++) {
    const c = uf.find(a);
    if (c !== before[a]) {
      changedA.push(a);
      changedC.push(c);
    }
  }
  await store.writeClusters(Int32Array.from(changedA), Int32Array.from(changedC), st.txs - 1, name, skipped);
  return {
    policy: name,
    txsFolded: folded,
    coinjoinSkipped: skipped,
    changeLinks,
    addressesWritten: changedA.length,
    full,
  };
}
