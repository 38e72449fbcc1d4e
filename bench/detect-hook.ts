/**
 * The detection hook in-process, on the collector's bench stream: what `collect` runs per batch with
 * detection on, without the socket, the store's flow writes or the other threads.
 *
 *   node --import tsx bench/detect-hook.ts [flows=1000000] [mix percent, or "crypto"=2] [rounds=3]
 *
 * The stream is bench/netflow.ts's (benchV9Stream; MIX as there), decoded into 4096-row batches
 * held in memory, then given to, for this checkout and (env BEFORE=DIR) another checkout's src/ in
 * the same run, alternating, best of `rounds`:
 *  - tracker: the behaviour tracker alone (BehaviourTracker#batch);
 *  - rows: the hook's whole work without the store (detectBatchRows with tracker and connections);
 *  - hook: the detection hook writing into an in-memory DuckDB detection store, its writes held
 *    and written every 49 batches (a commit a second at 200 k flows/s) when it can hold them.
 * CPU of this process per flow (µs), and the heap after each (MB). CPU_PROF=1 with node's
 * --cpu-prof profiles the whole run.
 */
import { join, resolve } from 'node:path';
import type { FlowBatch } from '../src/flow/record.js';
import { benchMix, decodedBenchStream, mixWords } from './collector-stream.js';
import { openFlowStore } from '../src/store/open.js';
import { openDetectionStore } from '../src/store/detections.js';

const FLOWS = Number(process.argv[2] ?? 1_000_000);
const MIXARG = process.argv[3] ?? '2';
const ROUNDS = Number(process.argv[4] ?? 3);
const MIX = benchMix(MIXARG);

interface Side {
  label: string;
  tracker: () => { batch(b: FlowBatch): unknown[] };
  rows: () => (b: FlowBatch, first: number) => unknown[];
  hook: () => Promise<{ run: (b: FlowBatch, first: number) => Promise<void>; close: () => Promise<void> }>;
}

async function side(root: string, label: string): Promise<Side> {
  const m = (p: string) => import(join(root, 'src', p));
  const { BehaviourTracker } = await m('detect/classifier/tracker.ts');
  const { detectBatchRows, createDetectionHook } = await m('detect/hook.ts');
  const { ConnectionMemory } = await m('detect/connections.ts');
  const { createDetector } = await m('detect/registry.ts');
  const { loadInfrastructure } = await m('detect/infrastructure.ts');
  const detector = createDetector(loadInfrastructure());
  return {
    label,
    tracker: () => new BehaviourTracker(),
    rows: () => {
      const behaviour = new BehaviourTracker();
      const connections = new ConnectionMemory();
      return (b, first) => detectBatchRows(detector, b, first, { behaviour, connections });
    },
    hook: async () => {
      const store = await openFlowStore(':memory:');
      const det = await openDetectionStore(store);
      const h = createDetectionHook(det, detector);
      h.hook.holdUntilCommit?.();
      let n = 0;
      return {
        run: async (b, first) => {
          await h.hook(b, null, first);
          if (++n % 49 === 0) await h.hook.beforeCommit?.();
        },
        close: async () => {
          await h.hook.beforeCommit?.();
          await store.close();
        },
      };
    },
  };
}

const cpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
const heapMb = () => process.memoryUsage().heapUsed / 2 ** 20;

const batches = decodedBenchStream(FLOWS, MIX);
const flows = batches.reduce((n, b) => n + b.length, 0);
const tcp = batches.reduce((n, b) => {
  for (let i = 0; i < b.length; i++) if (b.proto[i] === 6) n++;
  return n;
}, 0);
process.stdout.write(`stream: ${flows} flows (${tcp} TCP) in ${batches.length} batches, ${mixWords(MIX)}\n`);
const sides = [await side(resolve('.'), 'this checkout')];
if (process.env.BEFORE) sides.push(await side(resolve(process.env.BEFORE), `before (${process.env.BEFORE})`));
const best = new Map<string, number>();
const heap = new Map<string, number>();
const note = (k: string, us: number, mb: number) => {
  best.set(k, Math.min(best.get(k) ?? Infinity, us));
  heap.set(k, Math.max(heap.get(k) ?? 0, mb));
};
for (let r = 0; r < ROUNDS; r++) {
  for (const s of sides) {
    let t = cpu();
    const tr = s.tracker();
    for (const b of batches) tr.batch(b);
    note(`${s.label}: tracker`, ((cpu() - t) / flows) * 1e6, heapMb());
    t = cpu();
    const rows = s.rows();
    let first = 1;
    for (const b of batches) {
      rows(b, first);
      first += b.length;
    }
    note(`${s.label}: rows`, ((cpu() - t) / flows) * 1e6, heapMb());
    const h = await s.hook();
    t = cpu();
    first = 1;
    for (const b of batches) {
      await h.run(b, first);
      first += b.length;
    }
    await h.close();
    note(`${s.label}: hook + store`, ((cpu() - t) / flows) * 1e6, heapMb());
  }
}
for (const [k, us] of best)
  process.stdout.write(
    `${k}: ${us.toFixed(3)} µs CPU per flow (best of ${ROUNDS}); heap after ≤ ${heap.get(k)!.toFixed(0)} MB\n`,
  );
