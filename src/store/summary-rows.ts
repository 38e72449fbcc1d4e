/**
 * How a keyed summary row (`summary --by KEY`) is shown, whichever engine counted it: k1/k2 are
 * the grouped values (proto and port, address text and IP version, country, AS number).
 */
import type { SummaryKey, SummaryRow } from './store.js';

const PROTO_NAMES: Record<number, string> = {
  1: 'icmp',
  2: 'igmp',
  6: 'tcp',
  17: 'udp',
  47: 'gre',
  50: 'esp',
  58: 'icmp6',
  132: 'sctp',
};

export function protoName(p: number): string {
  return PROTO_NAMES[p] ?? String(p);
}

export function keyedRow(
  key: SummaryKey,
  r: { k1: unknown; k2: unknown; flows: unknown; packets: unknown; bytes: unknown },
  orgs: Map<number, string>,
): SummaryRow {
  const counters = { flows: Number(r.flows), packets: Number(r.packets), bytes: Number(r.bytes) };
  switch (key) {
    case 'dport':
    case 'sport':
      return { key: `${protoName(Number(r.k1))}/${Number(r.k2)}`, label: '', ...counters };
    case 'proto':
      return { key: protoName(Number(r.k1)), label: String(r.k1), ...counters };
    case 'src':
    case 'dst':
      return { key: String(r.k1), label: '', ...counters };
    case 'country':
      return { key: String(r.k1 || '??'), label: String(r.k1 || '??'), ...counters };
    case 'asn': {
      const asn = Number(r.k1);
      return {
        key: asn === 0 ? '-' : `AS${asn}`,
        label: asn === 0 ? 'unknown' : (orgs.get(asn) ?? ''),
        ...counters,
      };
    }
  }
}
