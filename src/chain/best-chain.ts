/**
 * Orders block records by height: link each header to its parent, sum the proof of work along
 * every branch from the genesis block, keep the branch with the most work (ties: the branch whose
 * tip came first in the files, as a node keeps the first it saw). Stale and unconnected blocks are
 * counted and left out.
 */
import type { Diagnostics } from '../flow/diagnostics.js';
import type { BlockRecord } from './blkfile.js';

export interface PlacedBlock extends BlockRecord {
  height: number;
}

/** Work of one header: 2^256 / (target + 1), the expected number of hashes to find it. */
export function headerWork(bits: number): bigint {
  const exp = bits >>> 24;
  const mant = BigInt(bits & 0x007fffff);
  if (mant === 0n || bits & 0x00800000) return 0n;
  const target = exp <= 3 ? mant >> BigInt(8 * (3 - exp)) : mant << BigInt(8 * (exp - 3));
  return (1n << 256n) / (target + 1n);
}

const ZERO = '0'.repeat(64);

export function bestChain(records: BlockRecord[], diag: Diagnostics): PlacedBlock[] {
  const byHash = new Map<string, BlockRecord>();
  const children = new Map<string, string[]>();
  const order = new Map<string, number>();
  for (const r of records) {
    const h = r.hash.toString('hex');
    if (byHash.has(h)) {
      diag.add('chain.duplicate_blocks');
      continue;
    }
    byHash.set(h, r);
    order.set(h, order.size);
    const p = r.prev.toString('hex');
    const list = children.get(p);
    if (list) list.push(h);
    else children.set(p, [h]);
  }
  const roots = children.get(ZERO) ?? [];
  if (roots.length > 1) diag.add('chain.extra_genesis', roots.length - 1);
  const height = new Map<string, number>();
  const work = new Map<string, bigint>();
  let tip = '';
  let tipWork = -1n;
  const stack: string[] = roots.slice(0, 1);
  for (const r of stack) {
    height.set(r, 0);
    work.set(r, headerWork(byHash.get(r)!.bits));
  }
  while (stack.length > 0) {
    const h = stack.pop()!;
    const w = work.get(h)!;
    if (w > tipWork || (w === tipWork && order.get(h)! < order.get(tip)!)) {
      tip = h;
      tipWork = w;
    }
    for (const c of children.get(h) ?? []) {
      height.set(c, height.get(h)! + 1);
      work.set(c, w + headerWork(byHash.get(c)!.bits));
      stack.push(c);
    }
  }
  const chain: PlacedBlock[] = [];
  for (let h = tip; h && byHash.has(h); h = byHash.get(h)!.prev.toString('hex')) {
    chain.push({ ...byHash.get(h)!, height: height.get(h)! });
    if (height.get(h) === 0) break;
  }
  chain.reverse();
  diag.add('chain.best_chain_blocks', chain.length);
  const stale = height.size - chain.length;
  if (stale > 0) diag.add('chain.stale_blocks', stale);
  const unconnected = byHash.size - height.size;
  if (unconnected > 0) diag.add('chain.unconnected_blocks', unconnected);
  return chain;
}
