/**
 * Targets for the flow-file readers, driven through the format registry exactly as `coinradar
 * ingest` drives them: pcap, pcapng, captures of NetFlow export traffic, nfcapd files, nfdump CSV and Zeek
 * conn.log (TSV and JSON). The input is written to a scratch file and read as the named format.
 */
import { Diagnostics, InputError } from '../../src/flow/diagnostics.js';
import '../../src/flow/all-formats.js';
import { detectFormat, formats, type FormatReader } from '../../src/flow/formats.js';
import { scratchFile } from '../scratch.js';
import { check, type FuzzTarget, type KnownOpen } from '../target.js';
import { checkBatch } from './flow-checks.js';

interface FlowFileSpec {
  name: string;
  kind: string;
  description: string;
  file: string;
  /** Counter that must equal the rows handed downstream. */
  rowsCounter: string;
  /** The reader reports records.read = records.kept + records.skipped. */
  readKeptSkipped: boolean;
  /**
   * Captures: every IP packet is in one flow, a fragment within its reassembled datagram or alone
   * (packets in flows = IP packets - fragments + datagrams reassembled + fragments not reassembled).
   */
  packetsAccounted?: boolean;
  tokens: string[];
  knownOpen?: KnownOpen[];
}

function flowFileTarget(spec: FlowFileSpec): FuzzTarget {
  let reader: FormatReader | undefined;
  return {
    name: spec.name,
    description: `${spec.description} (read through the format registry, as ingest reads it)`,
    invariants: [
      'no exception other than InputError (bad magic, location in the message)',
      `rows handed downstream = diagnostics '${spec.rowsCounter}'`,
      ...(spec.readKeptSkipped ? ['records.read = records.kept + records.skipped'] : []),
      ...(spec.packetsAccounted
        ? ['packets in flows = packets.ip - fragments + datagrams reassembled + fragments not reassembled']
        : []),
      'every row: ip version 4 or 6, finite non-negative counters, times within a JS Date, payload <= cap',
      'the sniffers never throw',
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    tokens: spec.tokens,
    knownOpen: spec.knownOpen,
    async setup() {
      reader = formats().find((f) => f.kind === spec.kind);
      if (!reader) throw new Error(`no reader registered for ${spec.kind}`);
    },
    async run(input) {
      const head = input.subarray(0, 65536);
      detectFormat(head);
      reader!.sniff(head);
      const path = scratchFile(spec.file, input);
      const d = new Diagnostics(10);
      let rows = 0;
      let packets = 0;
      for await (const b of reader!.read(path, { diagnostics: d, batchSize: 64 })) {
        checkBatch(b, spec.name);
        rows += b.length;
        for (let i = 0; i < b.length; i++) packets += b.packets[i] + b.revPackets[i];
      }
      check(
        rows === d.get(spec.rowsCounter),
        `${rows} rows handed downstream, '${spec.rowsCounter}' says ${d.get(spec.rowsCounter)} (${d.summary()})`,
      );
      if (spec.packetsAccounted) {
        const [ip, f4, f6, r4, r6, n4, n6] = [
          'packets.ip',
          'ipv4.fragments',
          'ipv6.fragments',
          'ipv4.datagrams-reassembled',
          'ipv6.datagrams-reassembled',
          'ipv4.fragments-not-reassembled',
          'ipv6.fragments-not-reassembled',
        ].map((k) => d.get(k));
        const expected = ip - f4 - f6 + r4 + r6 + n4 + n6;
        check(
          packets === expected,
          `${packets} packets in flows, ${expected} by the counters (${d.summary()})`,
        );
      }
      if (spec.readKeptSkipped) {
        const [read, kept, skipped] = ['records.read', 'records.kept', 'records.skipped'].map((k) =>
          d.get(k),
        );
        check(read === kept + skipped, `records.read ${read} != kept ${kept} + skipped ${skipped}`);
      }
    },
    expected: (e) => e instanceof InputError,
  };
}

const CAPTURE_TOKENS = [
  '\x00\x00\x00\x00',
  '\xff\xff\xff\xff',
  '\x08\x00',
  '\x86\xdd',
  '\x81\x00',
  '\x06',
  '\x11',
  // Tunnels: IP-in-IP and GRE protocols, GRE payload types, the UDP tunnel ports (VXLAN, GTP-U,
  // Teredo, CAPWAP data), MPLS, PPPoE session, PPP's address/control and IPv4 protocol.
  '\x04',
  '\x29',
  '\x2f',
  '\x65\x58',
  '\x88\xbe',
  '\x22\xeb',
  '\x88\x0b',
  '\x12\xb5',
  '\x08\x68',
  '\x0d\xd8',
  '\x14\x7f',
  '\x88\x47',
  '\x88\x64',
  '\xff\x03\x00\x21',
];
const CSV_TOKENS = [
  ',',
  '\n',
  '"',
  '\r\n',
  '-',
  '0',
  '-1',
  '1e309',
  'NaN',
  '::',
  '::ffff:1.2.3.4',
  '255.255.255.256',
];
const CSV_TIME_TOKENS = [
  '2024-01-01 00:00:00.000',
  '9999-99-99 99:99:99',
  '1970-01-01 00:00:00',
  'ICMP',
  'TCP',
];
const ZEEK_TOKENS = [
  '\t',
  '\n',
  '-',
  '(empty)',
  '#fields',
  '#types',
  '#separator \\x09',
  'tcp',
  'udp',
  'icmp',
];
const JSON_TOKENS = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ':',
  ',',
  'null',
  'true',
  '1e400',
  '-0',
  '"ts"',
  '"id.orig_h"',
  '\n',
];

export const flowFileTargets: FuzzTarget[] = [
  flowFileTarget({
    name: 'pcap',
    kind: 'pcap',
    description: 'libpcap capture → flows',
    file: 'input.pcap',
    rowsCounter: 'flows',
    readKeptSkipped: false,
    packetsAccounted: true,
    tokens: CAPTURE_TOKENS,
  }),
  flowFileTarget({
    name: 'pcapng',
    kind: 'pcapng',
    description: 'pcapng capture → flows',
    file: 'input.pcapng',
    rowsCounter: 'flows',
    readKeptSkipped: false,
    packetsAccounted: true,
    tokens: CAPTURE_TOKENS,
  }),
  flowFileTarget({
    name: 'netflow-pcap',
    kind: 'netflow-pcap',
    description: 'capture of NetFlow v5/v9/IPFIX export datagrams → flow records',
    file: 'exports.pcap',
    rowsCounter: 'records',
    readKeptSkipped: false,
    tokens: [...CAPTURE_TOKENS, '\x00\x05', '\x00\x09', '\x00\x0a', '\x00\x00', '\xff\xff'],
  }),
  flowFileTarget({
    name: 'nfcapd',
    kind: 'nfcapd',
    description: 'nfcapd file (nfdump 1.6/1.7 layouts; blocks plain, LZO, LZ4, BZ2) → flows',
    file: 'nfcapd.202612060400',
    // records.read also counts exporter and map records, so only kept rows are checked.
    rowsCounter: 'records.kept',
    readKeptSkipped: false,
    tokens: ['\x0c\xa5', '\x01\x00', '\x02\x00', '\x00\x00\x00\x00', '\xff\xff\xff\xff'],
  }),
  flowFileTarget({
    name: 'nfdump-csv',
    kind: 'nfdump-csv',
    description: 'nfdump -o csv output',
    file: 'flows.csv',
    rowsCounter: 'records.kept',
    readKeptSkipped: true,
    tokens: [...CSV_TOKENS, ...CSV_TIME_TOKENS],
  }),
  flowFileTarget({
    name: 'zeek-tsv',
    kind: 'zeek-tsv',
    description: 'Zeek conn.log, TSV layout',
    file: 'conn.log',
    rowsCounter: 'records.kept',
    readKeptSkipped: true,
    tokens: [...ZEEK_TOKENS, ...CSV_TOKENS],
  }),
  flowFileTarget({
    name: 'zeek-json',
    kind: 'zeek-json',
    description: 'Zeek conn.log, JSON lines',
    file: 'conn.json',
    rowsCounter: 'records.kept',
    readKeptSkipped: true,
    tokens: JSON_TOKENS,
  }),
];
