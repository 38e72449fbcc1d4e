/**
 * The bench-only halves of `coinradar ingest FILE` for bench/pcap-ndpi.ts, run on the compiled
 * code in dist/ (as the CLI is), so that the store's share can be told from everything else:
 *
 *   node --import tsx bench/pcap-ingest-split.ts FILE nostore   # ingest with geo + detection, store writes replaced by nothing
 *   node --import tsx bench/pcap-ingest-split.ts FILE flows     # capture → flows only (reader, decode, flow table)
 *
 * `nostore` is src/cli/ingest.ts and src/detect/pipeline.ts with the DuckDB flow and detection
 * stores swapped for ones that count and drop: the same enricher, detector, hook and ingestFile.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import type { FlowStore, SourceWriter } from '../src/store/store.js';
import type { DetectionInput, DetectionStore } from '../src/store/detections.js';

const [file, mode] = process.argv.slice(2);
const dist = (p: string) => pathToFileURL(resolve('dist', p)).href;

type Ingest = typeof import('../src/flow/ingest.js');
type Formats = typeof import('../src/capture/formats.js');
type Diag = typeof import('../src/flow/diagnostics.js');
type Enricher = typeof import('../src/cli/enricher.js');
type Hook = typeof import('../src/detect/hook.js');
type Registry = typeof import('../src/detect/registry.js');
type Infra = typeof import('../src/detect/infrastructure.js');

/** A flow store that gives ids and forgets the rows. */
function nullFlowStore(): FlowStore {
  let next = 1;
  const unused = () => Promise.reject(new Error('not stored: bench null store'));
  return {
    beginSource: async (): Promise<SourceWriter> => ({
      sourceId: 1,
      append: async (b) => {
        const id = next;
        next += b.length;
        return id;
      },
      checkpoint: async () => {},
      commit: async () => {},
      abort: async () => {},
    }),
    flows: unused,
    payloads: unused,
    summary: unused,
    summarize: unused,
    sources: unused,
    serveReaders: async () => null,
    close: async () => {},
  };
}

/** A detection store that counts the rows it is given. */
function nullDetectionStore(counter: { rows: number }): DetectionStore {
  const unused = () => Promise.reject(new Error('not stored: bench null store'));
  return {
    behaviourGroups: unused,
    dropStale: async () => {},
    add: async (rows: DetectionInput[]) => {
      counter.rows += rows.length;
    },
    clear: unused,
    detections: unused,
    artifacts: unused,
    counts: unused,
    begin: async () => {},
    commit: async () => {},
    rollback: async () => {},
  };
}

if (mode === 'flows') {
  const { captureFlows } = (await import(dist('capture/formats.js'))) as Formats;
  const { Diagnostics } = (await import(dist('flow/diagnostics.js'))) as Diag;
  let flows = 0;
  for await (const b of captureFlows(file, { diagnostics: new Diagnostics(), payloadCap: 2048 }))
    flows += b.length;
  console.log(`flows only: ${flows} flows`);
} else if (mode === 'nostore') {
  const { ingestFile } = (await import(dist('flow/ingest.js'))) as Ingest;
  await import(dist('flow/all-formats.js'));
  const { loadEnricher } = (await import(dist('cli/enricher.js'))) as Enricher;
  const { createDetectionHook } = (await import(dist('detect/hook.js'))) as Hook;
  const { createDetector } = (await import(dist('detect/registry.js'))) as Registry;
  const { loadInfrastructure } = (await import(dist('detect/infrastructure.js'))) as Infra;
  const enricher = await loadEnricher({ geo: true });
  const counter = { rows: 0 };
  const detection = createDetectionHook(
    nullDetectionStore(counter),
    createDetector(loadInfrastructure([], (m) => process.stderr.write(`warning: ${m}\n`))),
  );
  const r = await ingestFile(file, {
    store: nullFlowStore(),
    enricher,
    hooks: [detection.hook],
    payloadCap: 2048,
  });
  if (r.error) throw new Error(r.error);
  console.log(`without store: ${r.flows} flows, ${counter.rows} detections`);
} else {
  console.error('usage: node --import tsx bench/pcap-ingest-split.ts FILE nostore|flows');
  process.exit(2);
}
