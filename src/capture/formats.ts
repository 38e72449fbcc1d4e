/**
 * Registers pcap and pcapng as ingest formats: packets are assembled into flows by FlowTable
 * and handed downstream batch by batch. The sniffers look at the magic number only; a capture of
 * NetFlow/IPFIX export datagrams is claimed earlier by the netflow reader's more specific sniffer.
 */
import { registerFormat } from '../flow/formats.js';
import type { FlowBatch } from '../flow/record.js';
import type { FlowSource, FlowSourceOptions } from '../flow/source.js';
import { FlowTable, type FlowTableOptions } from './flow-table.js';
import { captureChunks, pcapMagic } from './reader.js';

/**
 * Stream the flows of a capture. The reader pauses after each 4 MiB chunk, and the batches
 * finished during it are yielded before the next chunk is read.
 */
export async function* captureFlows(
  path: string,
  opts: FlowSourceOptions & Omit<FlowTableOptions, 'source' | 'payloadCap' | 'batchSize'>,
): FlowSource {
  const ready: FlowBatch[] = [];
  const table = new FlowTable(
    {
      idleTimeoutMs: opts.idleTimeoutMs,
      activeTimeoutMs: opts.activeTimeoutMs,
      closeLingerMs: opts.closeLingerMs,
      maxFlows: opts.maxFlows,
      reassemble: opts.reassemble,
      reassembly: opts.reassembly,
      payloadCap: opts.payloadCap,
      batchSize: opts.batchSize,
      source: path,
    },
    (b) => ready.push(b),
  );
  for await (const _ of captureChunks(path, opts.diagnostics, (p) => table.addPacket(p), {
    onProgress: opts.onProgress,
  })) {
    while (ready.length > 0) yield ready.shift()!;
  }
  // Every packet of a link type no decoder reads: an error naming it, not a silent 0 flows.
  const unreadable = table.unreadable();
  if (unreadable) throw unreadable;
  table.flush(opts.diagnostics);
  while (ready.length > 0) yield ready.shift()!;
}

registerFormat({
  kind: 'pcap',
  description: 'libpcap capture (any byte order, µs or ns timestamps)',
  sniff: (head) => pcapMagic(head) === 'pcap',
  read: (path, opts) => captureFlows(path, opts),
});

registerFormat({
  kind: 'pcapng',
  description: 'pcapng capture (any byte order, several interfaces)',
  sniff: (head) => pcapMagic(head) === 'pcapng',
  read: (path, opts) => captureFlows(path, opts),
});
