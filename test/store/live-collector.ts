// A live collector on a ClickHouse store for the store tests (clickhouse-restart, -blackhole): on
// loopback, no geo, small flush and commit intervals, with a sender of numbered NetFlow v9 flows
// (30 a datagram; each flow's number in its source address, flowNumber) and what it said.
import { detectionHookFor } from '../../src/detect/pipeline.js';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import type { FlowBatch } from '../../src/flow/record.js';
import { NetflowCollector, type CollectOptions } from '../../src/netflow/collector.js';
import type { ClickHouseFlowStore } from '../../src/store/clickhouse/flows.js';
import { openFlowStore } from '../../src/store/open.js';
import { v9Stream } from '../netflow/live-sender.js';

export const PER = 30;

/** `detect`: with the detection hook on the same store. */
export async function liveCollector(url: string, o: Partial<CollectOptions> = {}, detect = false) {
  const store = (await openFlowStore(url)) as ClickHouseFlowStore;
  const said: string[] = [];
  const c = await NetflowCollector.start({
    listen: 'udp://127.0.0.1:0',
    store,
    enricher: { enrich: (b: FlowBatch) => emptyEnrichment(b.length) },
    hooks: detect ? [(await detectionHookFor(store)).hook] : [],
    onStoreFailure: (m) => said.push(m),
    flushMs: 50,
    commitMs: 200,
    ...o,
  });
  /** Datagrams from..to-1 (flows from*30 … to*30-1), each sent once the previous one is. */
  const stream = v9Stream(c.port, PER);
  const send = stream.send;
  const close = async () => {
    stream.close();
    await store.close();
  };
  return { store, c, send, said, close };
}

/** The next update of the source's row fails with `message` (as a connection cut would), the rest go through. */
export function failSourceRowOnce(store: ClickHouseFlowStore, message = 'test: socket hang up'): void {
  const put = store.putSource.bind(store);
  let failures = 0;
  store.putSource = (s) => (failures++ === 0 ? Promise.reject(new Error(message)) : put(s));
}
