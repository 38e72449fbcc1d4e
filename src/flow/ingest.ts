/**
 * File ingest: detect each file's format from its bytes, stream it as flow batches, enrich each
 * batch, hand it to the batch hooks (detection), and store it — one transaction per file, so an
 * interrupted ingest leaves nothing half-written and a re-ingest replaces the earlier copy.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { Diagnostics, InputError, formatProblem } from './diagnostics.js';
import { emptyEnrichment, type EnrichedColumns, type FlowEnricher } from './enrichment.js';
import { detectFormat, formats } from './formats.js';
import { fileFingerprint } from './fingerprint.js';
import { PlausibleTimeCheck, positionUnit } from './plausible-time.js';
import type { FlowBatch } from './record.js';
import type { FlowStore } from '../store/store.js';

/**
 * Called with every stored batch and the id of its first row (detection plugs in here). A hook must
 * not keep the batch or its column arrays after it returns: the live collector hands them back to
 * its receiver to fill again (copy what you keep).
 */
export type BatchHook = (
  batch: FlowBatch,
  enrichment: EnrichedColumns,
  firstFlowId: number,
) => Promise<void> | void;

export interface IngestOptions {
  store: FlowStore;
  enricher?: FlowEnricher;
  payloadCap?: number;
  batchSize?: number;
  hooks?: BatchHook[];
  onProgress?: (file: string, bytesRead: number, size: number) => void;
  /** Called for each problem as it happens (the CLI prints the first few). */
  onProblem?: Diagnostics['onProblem'];
}

export interface FileIngestResult {
  path: string;
  kind: string;
  flows: number;
  diagnostics: Diagnostics;
  /** Set when the file could not be read at all (unknown format, unreadable). */
  error?: string;
}

export function readHead(path: string, n = 65536): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export async function ingestFile(path: string, opts: IngestOptions): Promise<FileIngestResult> {
  const diagnostics = new Diagnostics(100, opts.onProblem);
  const head = readHead(path);
  const reader = detectFormat(head);
  if (!reader) {
    const known = formats()
      .map((f) => f.kind)
      .join(', ');
    const p = {
      source: path,
      offset: 0,
      unit: 'byte' as const,
      kind: 'unknown-format',
      message: `not a format coinradar reads (${known})`,
    };
    diagnostics.problem(p);
    return { path, kind: 'unknown', flows: 0, diagnostics, error: formatProblem(p) };
  }
  const size = statSync(path).size;
  const writer = await opts.store.beginSource({
    name: path,
    kind: reader.kind,
    fingerprint: fileFingerprint(path),
  });
  let flows = 0;
  const times = new PlausibleTimeCheck(path, positionUnit(reader.kind));
  try {
    const source = reader.read(path, {
      diagnostics,
      payloadCap: opts.payloadCap,
      batchSize: opts.batchSize,
      onProgress: (n) => opts.onProgress?.(path, n, size),
    });
    for await (const batch of source) {
      if (batch.length === 0) continue;
      times.check(batch);
      const enrichment = opts.enricher ? opts.enricher.enrich(batch) : emptyEnrichment(batch.length);
      const firstId = await writer.append(batch, enrichment);
      for (const hook of opts.hooks ?? []) await hook(batch, enrichment, firstId);
      flows += batch.length;
    }
    times.report(diagnostics);
    diagnostics.add('flows.stored', flows);
    await writer.commit(diagnostics);
    return { path, kind: reader.kind, flows, diagnostics };
  } catch (e) {
    await writer.abort();
    if (e instanceof InputError) {
      diagnostics.problem(e.problem);
      return { path, kind: reader.kind, flows: 0, diagnostics, error: e.message };
    }
    throw e;
  }
}
