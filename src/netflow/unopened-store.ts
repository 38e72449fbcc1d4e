/**
 * The store of a collector started while its real store cannot be opened (`collect --spool` with
 * a ClickHouse server out of reach at start): every write fails with the reason the store could
 * not be opened, a failure that passes, so the collector holds what arrives — in its spool — as it
 * does through any outage. `collect` keeps trying to open the real store and, once it can, stops
 * this collector and starts one on the store and the same spool, which stores what is there first.
 */
import type { FlowStore, SourceWriter } from '../store/store.js';

export function unopenedStore(cause: unknown): Pick<FlowStore, 'beginSource'> {
  return {
    beginSource: (): Promise<SourceWriter> => {
      const fail = () => Promise.reject(cause);
      return Promise.resolve({
        sourceId: 0,
        append: fail,
        checkpoint: fail,
        commit: fail,
        abort: () => Promise.resolve(),
        // Never recovered: this collector is stopped once the real store opens.
        recover: () => Promise.resolve(null),
      });
    },
  };
}
