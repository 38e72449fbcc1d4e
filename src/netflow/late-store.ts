/**
 * A store a collector starts without (`collect --spool` whose ClickHouse server cannot be reached
 * at start): until it opens, every write fails with the reason it could not be opened, a failure
 * that passes, so the collector holds what arrives (in memory and in its spool) as through any
 * outage; each of the collector's tries to recover tries to open it, and once one does, the live
 * source is begun in it and what was held is stored, in order, before anything new. One collector
 * and one socket throughout: nothing is lost between waiting and storing.
 */
import type { BatchHook } from '../flow/ingest.js';
import type { DetectionHook } from '../detect/hook.js';
import { isPassingFailure } from '../store/passing-failures.js';
import type { FlowStore, SourceInfo, SourceWriter, Uncommitted } from '../store/store.js';

export interface LateStore {
  /** For CollectOptions.store. */
  store: Pick<FlowStore, 'beginSource' | 'discardUncommitted'>;
  /** The store once it has opened; null before. */
  opened(): FlowStore | null;
}

/**
 * `open` opens the store and readies what goes with it (the detection hook: lateHook); it is
 * called again until it resolves, and a rejection that is not a failure that passes stops the
 * collector.
 */
export function lateStore(cause: unknown, open: () => Promise<FlowStore>): LateStore {
  let real: FlowStore | null = null;
  const openOnce = async () => (real ??= await open());
  return {
    opened: () => real,
    store: {
      beginSource: (info: SourceInfo, opts?: { live?: boolean }) =>
        Promise.resolve(new LateWriter(cause, async () => (await openOnce()).beginSource(info, opts))),
      discardUncommitted: (u: Uncommitted) =>
        real ? (real.discardUncommitted?.(u) ?? Promise.resolve()) : Promise.reject(cause),
    },
  };
}

class LateWriter implements SourceWriter {
  private real: SourceWriter | null = null;

  constructor(
    private readonly cause: unknown,
    private readonly begin: () => Promise<SourceWriter>,
  ) {}

  get sourceId(): number {
    return this.real?.sourceId ?? 0;
  }

  append(...a: Parameters<SourceWriter['append']>): Promise<number> {
    return this.real ? this.real.append(...a) : Promise.reject(this.cause);
  }

  checkpoint(...a: Parameters<SourceWriter['checkpoint']>): Promise<void> {
    return this.real ? this.real.checkpoint(...a) : Promise.reject(this.cause);
  }

  commit(...a: Parameters<SourceWriter['commit']>): Promise<void> {
    return this.real ? this.real.commit(...a) : Promise.reject(this.cause);
  }

  abort(): Promise<void> {
    return this.real ? this.real.abort() : Promise.resolve();
  }

  storeCounts(): { counts: Record<string, number>; lastError: string | null } {
    return this.real?.storeCounts?.() ?? { counts: {}, lastError: null };
  }

  uncommitted(): Uncommitted | null {
    return this.real?.uncommitted?.() ?? null;
  }

  /** Before the store opens: a try to open it and begin the source (null: not yet). */
  async recover(cause: unknown): Promise<{ discarded: number; committed: number } | null> {
    if (this.real) {
      if (!this.real.recover) throw cause;
      return this.real.recover(cause);
    }
    try {
      this.real = await this.begin();
    } catch (e) {
      if (isPassingFailure(e)) return null;
      throw e;
    }
    return { discarded: 0, committed: 0 };
  }
}

/**
 * A detection hook for a store not open yet: it passes batches and the collector's calls on to
 * the real hook once `set` (no batch is stored, so none reaches it, before the store opens).
 */
export function lateHook(): { hook: DetectionHook['hook']; set(h: DetectionHook['hook']): void } {
  let real: DetectionHook['hook'] | null = null;
  let holding = false;
  const call: BatchHook = (b, e, id) => real?.(b, e, id);
  const hook = Object.assign(call, {
    holdUntilCommit(on = true) {
      holding = on;
      real?.holdUntilCommit(on);
    },
    beforeCommit: () => real?.beforeCommit() ?? Promise.resolve(),
    discardHeld: () => real?.discardHeld(),
    seenBefore: (on: boolean) => real?.seenBefore(on),
  });
  return {
    hook,
    set(h) {
      real = h;
      h.holdUntilCommit(holding);
    },
  };
}
