/**
 * The one call the ingest and collect commands make: a detection hook on a flow store, with the
 * default lists plus any user lists.
 */
import type { BatchHook } from '../flow/ingest.js';
import { addImportedInfrastructure } from '../indicators/apply.js';
import { DuckDbFlowStore } from '../store/duckdb/flows.js';
import { openDetectionStore } from '../store/detections.js';
import type { FlowStore } from '../store/store.js';
import { createDetectionHook, type HeldWrites } from './hook.js';
import { loadInfrastructure } from './infrastructure.js';
import { createDetector } from './registry.js';

export interface PipelineDetection {
  /** The hook (with hook.ts's holdUntilCommit/beforeCommit, which the live collector calls). */
  hook: BatchHook & HeldWrites;
  /** "stratum 4, bitcoin-p2p 6, ..." for the end-of-run line. */
  summary(): string;
}

export async function detectionHookFor(
  store: FlowStore,
  opts: { lists?: string[]; onProblem?: (msg: string) => void } = {},
): Promise<PipelineDetection> {
  const infra = loadInfrastructure(
    opts.lists ?? [],
    opts.onProblem ?? ((m) => process.stderr.write(`warning: ${m}\n`)),
  );
  // Indicators imported into this store (coinradar indicators import) join the lists.
  if (store instanceof DuckDbFlowStore) await addImportedInfrastructure(infra, store.db);
  const det = await openDetectionStore(store);
  const h = createDetectionHook(det, createDetector(infra));
  return {
    hook: h.hook,
    summary: () =>
      h.counts.size === 0
        ? 'none'
        : [...h.counts]
            .sort((a, b) => b[1] - a[1])
            .map(([l, n]) => `${l} ${n}`)
            .join(', '),
  };
}
