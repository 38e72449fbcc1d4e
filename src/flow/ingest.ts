/**
 * File ingest: open each input (decompressed or spooled from a stream when it has to be:
 * decompress.ts), detect its format from its bytes, stream it as flow batches, enrich each batch,
 * hand it to the batch hooks (detection), and store it — one transaction per file, so an
 * interrupted ingest leaves nothing half-written and a re-ingest replaces the earlier copy.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { openInput, type Compression, type OpenedInput } from './decompress.js';
import { Diagnostics, InputError, formatProblem, type InputProblem } from './diagnostics.js';
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
  /** Captures only: the flow table's active timeout (default DEFAULT_ACTIVE_TIMEOUT_MS, 5 min). */
  activeTimeoutMs?: number;
  batchSize?: number;
  hooks?: BatchHook[];
  onProgress?: (file: string, bytesRead: number, size: number) => void;
  /** Called for each problem as it happens (the CLI prints the first few). */
  onProblem?: Diagnostics['onProblem'];
  /** Bound on a decompressed or spooled input (default: decompress.ts defaultSpoolLimit()). */
  spoolLimit?: number;
  /** Input bytes read while decompressing/spooling; `size` is 0 for a pipe. */
  onSpoolProgress?: (file: string, bytesRead: number, size: number) => void;
  /** What the path `-` reads (default process.stdin). */
  stdin?: Readable;
  /** Where spool files go (default os.tmpdir()). */
  tmpDir?: string;
}

export interface FileIngestResult {
  path: string;
  kind: string;
  flows: number;
  diagnostics: Diagnostics;
  /** Set when the file could not be read at all (unknown format, unreadable), or decompression stopped early. */
  error?: string;
  /** The input's compression, when it was decompressed. */
  compression?: Compression;
  /** Bytes decompressed or spooled from a stream (0 when the file was read in place). */
  spooledBytes?: number;
}

/**
 * Problems name the input as the user gave it: a reader reading the spool file reports the spool's
 * path, which is rewritten to e.g. `conn.log.gz (gzip, decompressed)`.
 */
class RenamingDiagnostics extends Diagnostics {
  constructor(
    keep: number,
    onProblem: Diagnostics['onProblem'],
    private readonly from: string,
    private readonly to: string,
  ) {
    super(keep, onProblem);
  }

  rename(p: InputProblem): InputProblem {
    return p.source === this.from ? { ...p, source: this.to } : p;
  }

  override problem(p: InputProblem): void {
    super.problem(this.rename(p));
  }
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
  const input = await openInput(path, {
    spoolLimit: opts.spoolLimit,
    stdin: opts.stdin,
    tmpDir: opts.tmpDir,
    onProgress: (n, size) => opts.onSpoolProgress?.(path === '-' ? 'stdin' : path, n, size),
  });
  try {
    return await ingestOpened(input, opts);
  } finally {
    input.close();
  }
}

async function ingestOpened(input: OpenedInput, opts: IngestOptions): Promise<FileIngestResult> {
  const { path, name, label, compression, spooledBytes } = input;
  const diagnostics = new RenamingDiagnostics(100, opts.onProblem, path, label);
  const failed = (p: InputProblem, kind = 'unknown'): FileIngestResult => {
    diagnostics.problem(p);
    return { path: name, kind, flows: 0, diagnostics, error: formatProblem(p), compression, spooledBytes };
  };
  if (input.error) return failed(input.error);
  if (input.spooledBytes) {
    diagnostics.add('input.bytes', input.inputBytes);
    diagnostics.add('input.spooled-bytes', input.spooledBytes);
  }
  // Decompression that stopped early is said first; what was decoded before it is read below.
  if (input.problem) diagnostics.problem(input.problem);
  const decodeError = input.problem ? formatProblem(input.problem) : undefined;
  const head = readHead(path);
  const reader = detectFormat(head);
  if (!reader) {
    const known = formats()
      .map((f) => f.kind)
      .join(', ');
    const p = {
      source: label,
      offset: 0,
      unit: 'byte' as const,
      kind: 'unknown-format',
      message: `not a format coinradar reads (${known})`,
    };
    const r = failed(p);
    return decodeError ? { ...r, error: decodeError } : r;
  }
  const size = statSync(path).size;
  const writer = await opts.store.beginSource({
    name,
    kind: reader.kind,
    // Of the bytes the readers read (decompressed), so the same data compressed or not is one source.
    fingerprint: fileFingerprint(path),
  });
  let flows = 0;
  const times = new PlausibleTimeCheck(label, positionUnit(reader.kind));
  try {
    const source = reader.read(path, {
      diagnostics,
      payloadCap: opts.payloadCap,
      activeTimeoutMs: opts.activeTimeoutMs,
      batchSize: opts.batchSize,
      onProgress: (n) => opts.onProgress?.(name, n, size),
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
    return {
      path: name,
      kind: reader.kind,
      flows,
      diagnostics,
      error: decodeError,
      compression,
      spooledBytes,
    };
  } catch (e) {
    await writer.abort();
    if (e instanceof InputError) {
      const p = diagnostics.rename(e.problem);
      diagnostics.problem(p);
      return {
        path: name,
        kind: reader.kind,
        flows: 0,
        diagnostics,
        error: formatProblem(p),
        compression,
        spooledBytes,
      };
    }
    throw e;
  }
}
