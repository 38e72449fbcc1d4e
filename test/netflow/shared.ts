// Shared by decoder-limits.test.ts, sequence.test.ts and flood.test.ts: a flow template and the
// datagrams of the template flood of issue 10.
import { field } from '../../src/netflow/encode.js';
import { IE } from '../../src/netflow/plan.js';

/** A flow template: addresses, ports, protocol, packet and octet counts. */
export const FLOW_FIELDS = [
  field(IE.sourceIPv4Address, 4),
  field(IE.destinationIPv4Address, 4),
  field(IE.sourceTransportPort, 2),
  field(IE.destinationTransportPort, 2),
  field(IE.protocolIdentifier, 1),
  field(IE.packetDeltaCount, 4),
  field(IE.octetDeltaCount, 4),
];

/** Template records of 4 fields (20 bytes): 3,000 of them fit one IPFIX message of 60,020 bytes. */
export const FLOOD_FIELDS = [
  IE.sourceIPv4Address,
  IE.destinationIPv4Address,
  IE.packetDeltaCount,
  IE.octetDeltaCount,
];

/**
 * An IPFIX message holding `templates` template records (ids 256..) under observation `domain`,
 * built byte by byte: the flood sends hundreds of these a second.
 */
export function floodMessage(domain: number, templates = 3000, seq = 0, exportSecs = 1_700_000_000): Buffer {
  const recLen = 4 + FLOOD_FIELDS.length * 4;
  const setLen = 4 + templates * recLen;
  const b = Buffer.alloc(16 + setLen);
  b.writeUInt16BE(10, 0);
  b.writeUInt16BE(b.length, 2);
  b.writeUInt32BE(exportSecs, 4);
  b.writeUInt32BE(seq >>> 0, 8);
  b.writeUInt32BE(domain >>> 0, 12);
  b.writeUInt16BE(2, 16);
  b.writeUInt16BE(setLen, 18);
  let p = 20;
  for (let t = 0; t < templates; t++) {
    b.writeUInt16BE(256 + t, p);
    b.writeUInt16BE(FLOOD_FIELDS.length, p + 2);
    p += 4;
    for (const id of FLOOD_FIELDS) {
      b.writeUInt16BE(id, p);
      b.writeUInt16BE(4, p + 2);
      p += 4;
    }
  }
  return b;
}
