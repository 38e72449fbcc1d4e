/**
 * Format 'sflow-pcap': a pcap/pcapng capture of sFlow v5 datagrams (for example
 * `dumpcap -i eth0 -f 'udp port 6343'`). Every UDP payload that starts with the sFlow version word
 * (00 00 00 05) is decoded as a datagram; its samples take the packet's capture time (sFlow itself
 * carries only the agent's uptime). Other UDP is counted (`udp.not-sflow`) and left. Position of a
 * record = file offset of the packet that carried its datagram.
 *
 * The sniffer is as narrow as the NetFlow one (same rule: two in three of the first UDP datagrams
 * look like sFlow v5 headers, UDP at least half of the first packets); every other capture belongs
 * to the capture reader.
 */
import { registerFormat } from '../flow/formats.js';
import type { FlowSource, FlowSourceOptions } from '../flow/source.js';
import { exportDatagramBatches, sniffExportCapture } from '../netflow/pcap-reader.js';
import { SflowDecoder, looksLikeSflow } from './decoder.js';

export function sniffSflowCapture(head: Buffer): boolean {
  return sniffExportCapture(head, looksLikeSflow);
}

function readSflowCapture(path: string, opts: FlowSourceOptions): FlowSource {
  return exportDatagramBatches(path, opts, 'udp.not-sflow', (input) => {
    const decoder = new SflowDecoder(input);
    return {
      datagram(payload, at) {
        if (
          payload.length < 4 ||
          payload[0] !== 0 ||
          payload[1] !== 0 ||
          payload[2] !== 0 ||
          payload[3] !== 5
        )
          return false;
        // The payload is a view into the reader's chunk; the decoder copies what it keeps.
        decoder.decode(payload, at.fileOffset, at.tsMs);
        return true;
      },
      finish: () => decoder.finish(),
    };
  });
}

registerFormat({
  kind: 'sflow-pcap',
  description: 'pcap/pcapng capture of sFlow v5 datagrams',
  sniff: sniffSflowCapture,
  read: readSflowCapture,
});
