// The demo's scenario ingested into a store as `coinradar ingest` does (geo enrichment and
// detection on): the acceptance tests of the ClickHouse engine (clickhouse-scenario, -serve) put
// the same files into DuckDB and into ClickHouse with this, then compare what each answers.
import assert from 'node:assert/strict';
import { loadEnricher } from '../../src/cli/enricher.js';
import { detectionHookFor } from '../../src/detect/pipeline.js';
import '../../src/flow/all-formats.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { openFlowStore } from '../../src/store/open.js';

/** Ingest `files` into the store at `db` (on `cluster` when given); resolves to the flows stored. */
export async function ingestDemo(db: string, files: string[], cluster?: string): Promise<number> {
  const store = await openFlowStore(db, { cluster });
  let flows = 0;
  try {
    const detection = await detectionHookFor(store);
    const enricher = await loadEnricher({ geo: true });
    for (const f of files) {
      const r = await ingestFile(f, { store, enricher, hooks: [detection.hook] });
      assert.equal(r.error, undefined);
      flows += r.flows;
    }
  } finally {
    await store.close();
  }
  return flows;
}
