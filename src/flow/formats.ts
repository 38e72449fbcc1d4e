/**
 * Input formats, recognised from the bytes (never the file name). Each reader registers here
 * with a sniffer over the first bytes of the file and a function that streams it as flow batches.
 */
import type { FlowSource, FlowSourceOptions } from './source.js';

export interface FormatReader {
  /** Short name stored with the source, e.g. 'pcap', 'pcapng', 'netflow-pcap', 'nfdump-csv', 'zeek-tsv'. */
  kind: string;
  /** Human description for `coinradar ingest --help` and errors. */
  description: string;
  /** True when `head` (the first up to 64 KiB of the file) looks like this format. */
  sniff(head: Buffer): boolean;
  read(path: string, opts: FlowSourceOptions): FlowSource;
}

const readers: FormatReader[] = [];

/** Readers register at import time; order matters only when two sniffers could both match. */
export function registerFormat(r: FormatReader): void {
  readers.push(r);
}

export function formats(): readonly FormatReader[] {
  return readers;
}

export function detectFormat(head: Buffer): FormatReader | undefined {
  return readers.find((r) => r.sniff(head));
}
