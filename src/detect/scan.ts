/**
 * TCP attempts that carried no data: a SYN nobody answered, a SYN refused with a RST, a bare RST
 * (backscatter), a handshake closed at once. On a crypto port they are scans or refused
 * connections, not crypto activity: they are counted as `scan` (docs/detection-rules.md, "Scans")
 * instead of `crypto-port`, and the port-based series and host lists leave them out.
 *
 * The rule reads only flow counters, so NetFlow, IPFIX, Zeek and captures are judged alike: TCP,
 * SYN or RST seen, no FIN, PSH or URG, at most 80 bytes per packet (an IPv6 header with the largest
 * TCP header, so no data fits beside it) and, when the flow has payload samples, none.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG } from '../flow/record.js';
import type { Detection, FlowView } from './types.js';

/** The counters of a flow the rule reads (FlowRecord has them under these names). */
export interface FlowCounters {
  tcpFlags: number;
  packets: number;
  bytes: number;
  revPackets: number;
  revBytes: number;
}

const MAX_BYTES_PER_PACKET = 80;
const ATTEMPT = TCP_SYN | TCP_RST;
const DATA = TCP_FIN | TCP_PSH | TCP_URG;

export function isScanAttempt(flow: FlowView, c: FlowCounters): boolean {
  if (flow.proto !== 6 || (c.tcpFlags & ATTEMPT) === 0 || (c.tcpFlags & DATA) !== 0) return false;
  const packets = c.packets + c.revPackets;
  if (packets <= 0 || c.bytes + c.revBytes > MAX_BYTES_PER_PACKET * packets) return false;
  return !(flow.payloadFwd?.length || flow.payloadRev?.length);
}

/** The same rule over the stored flow columns, for the series and host queries. */
export const SCAN_ATTEMPT_SQL = `(proto = 6 AND (tcp_flags & ${ATTEMPT}) <> 0 AND (tcp_flags & ${DATA}) = 0 AND bytes + rev_bytes <= ${MAX_BYTES_PER_PACKET} * (packets + rev_packets))`;

function flagNames(f: number): string {
  const n: string[] = [];
  if (f & TCP_SYN) n.push('SYN');
  if (f & TCP_RST) n.push('RST');
  if (f & TCP_ACK) n.push('ACK');
  return n.join('+');
}

/** A port hint turned into a scan: the same port and server side, label `scan`. */
export function scanDetection(hint: Detection, c: FlowCounters): Detection {
  const port = hint.evidence.port as number;
  const packets = c.packets + c.revPackets;
  return {
    label: 'scan',
    coin: '',
    confidence: 'port',
    evidence: {
      rule: 'port.scan',
      detail: `TCP attempt without data (${flagNames(c.tcpFlags)}, ${packets} packet${packets === 1 ? '' : 's'}) on the well-known ${String(hint.evidence.service)} port ${port}: a scan or a refused connection, not crypto activity`,
      port,
      service: hint.evidence.service,
      server: hint.evidence.server,
      tcpFlags: c.tcpFlags,
    },
    artifacts: [],
  };
}
