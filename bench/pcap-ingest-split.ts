/**
 * The bench-only halves of `coinradar ingest FILE` for bench/pcap-ndpi.ts, run on the compiled
 * code in dist/ (as the CLI is), so that the store's share can be told from everything else:
 *
 *   node --import tsx bench/pcap-ingest-split.ts FILE nostore   # ingest with geo + detection, store writes replaced by nothing
 *   node --import tsx bench/pcap-ingest-split.ts FILE flows     # capture → flows only (reader, decode, flow table)
 *   node --import tsx bench/pcap-ingest-split.ts FILE phases DB # the real DuckDB store, CPU of each of its steps
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
type StoreOpen = typeof import('../src/store/open.js');
type DetStore = typeof import('../src/store/detections.js');

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
    series: unused,
    hostProfiles: unused,
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
    behaviourFlows: unused,
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
} else if (mode === 'nostore' || mode === 'phases') {
  // phases: the real DuckDB store, each of its steps timed (process CPU, so DuckDB's own threads
  // count where they work during the step; what they do in the background lands in a later one).
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
  };
  const phases = new Map<string, number>();
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const c = cpu();
    try {
      return await f();
    } finally {
      phases.set(name, (phases.get(name) ?? 0) + cpu() - c);
    }
  };
  let store: FlowStore = nullFlowStore();
  const counter = { rows: 0 };
  let detStore = nullDetectionStore(counter);
  if (mode === 'phases') {
    const { openFlowStore } = await timed(
      'import DuckDB',
      async () => (await import(dist('store/open.js'))) as StoreOpen,
    );
    const { openDetectionStore } = (await import(dist('store/detections.js'))) as DetStore;
    const real = await timed('open + schema', () => openFlowStore(process.argv[4]));
    await timed('reader socket', () => real.serveReaders());
    const det = await timed('detection store', () => openDetectionStore(real));
    const begin = real.beginSource.bind(real);
    real.beginSource = async (info, opts) => {
      const w = await timed('beginSource', () => begin(info, opts));
      return {
        sourceId: w.sourceId,
        append: (b, e) => timed('append flows + payloads', () => w.append(b, e)),
        checkpoint: (d) => w.checkpoint(d),
        commit: (d) => timed('commit', () => w.commit(d)),
        abort: () => w.abort(),
      };
    };
    store = real;
    detStore = Object.assign(Object.create(det) as DetectionStore, {
      add: (rows: DetectionInput[]) => {
        counter.rows += rows.length;
        return timed('detections add', () => det.add(rows));
      },
      dropStale: (id: number) => timed('detections dropStale', () => det.dropStale(id)),
    });
  }
  const { ingestFile } = (await import(dist('flow/ingest.js'))) as Ingest;
  await import(dist('flow/all-formats.js'));
  const { loadEnricher } = (await import(dist('cli/enricher.js'))) as Enricher;
  const { createDetectionHook } = (await import(dist('detect/hook.js'))) as Hook;
  const { createDetector } = (await import(dist('detect/registry.js'))) as Registry;
  const { loadInfrastructure } = (await import(dist('detect/infrastructure.js'))) as Infra;
  const enricher = await loadEnricher({ geo: true });
  const detection = createDetectionHook(
    detStore,
    createDetector(loadInfrastructure([], (m) => process.stderr.write(`warning: ${m}\n`))),
  );
  const r = await ingestFile(file, {
    store,
    enricher,
    hooks: [detection.hook],
    payloadCap: 2048,
  });
  if (r.error) throw new Error(r.error);
  await timed('close', () => store.close());
  if (mode === 'nostore') console.log(`without store: ${r.flows} flows, ${counter.rows} detections`);
  else {
    const inStore = [...phases.values()].reduce((a, b) => a + b, 0);
    console.log(
      `store steps, CPU ms: ${[...phases].map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}; ` +
        `in the store ${inStore.toFixed(0)}, the rest of the process ${(cpu() - inStore).toFixed(0)} ` +
        `(${r.flows} flows, ${counter.rows} detections)`,
    );
  }
} else {
  console.error('usage: node --import tsx bench/pcap-ingest-split.ts FILE nostore|flows|phases [DB]');
  process.exit(2);
}
