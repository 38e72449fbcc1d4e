/**
 * Targets for NetflowDecoder, fed datagrams as the live collector feeds them. One input is a
 * sequence of frames `[exporter: u8][length: u16 BE][datagram]` (fuzz/frames.ts), all decoded by
 * one decoder so that templates from one datagram apply to the next. The exporter byte picks one
 * of four exporter addresses, so sessions, template scoping and pending data sets are exercised.
 */
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { FlowBatch } from '../../src/flow/record.js';
import { NetflowDecoder } from '../../src/netflow/decoder.js';
import { forEachFrame } from '../frames.js';
import { check, type FuzzTarget, type KnownOpen } from '../target.js';
import { checkBatch } from './flow-checks.js';

const EXPORTERS = ['192.0.2.1', '192.0.2.2', '2001:db8::1', '198.51.100.7'];
const MAX_PENDING = 64;

const TOKENS = [
  '\x00\x05',
  '\x00\x09',
  '\x00\x0a',
  '\x00\x00',
  '\x00\x01',
  '\x00\x02',
  '\x00\x03',
  '\x01\x00',
  '\xff\xff',
  '\x80\x00',
  '\x00\x00\x00\x00',
  '\xff\xff\xff\xff',
];

function netflowTarget(name: string, description: string, knownOpen: KnownOpen[] = []): FuzzTarget {
  return {
    name,
    description,
    knownOpen,
    invariants: [
      'decode() never throws on any bytes',
      "rows handed downstream = diagnostics 'records'",
      'every row: ip version 4 or 6, finite non-negative counters, times within a JS Date',
      `pending data sets per session <= maxPendingSets (${MAX_PENDING})`,
      "templates held <= 'templates.new' counted",
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    tokens: TOKENS,
    async run(input) {
      const d = new Diagnostics(10);
      let rows = 0;
      const onBatch = (b: FlowBatch) => {
        checkBatch(b, name);
        rows += b.length;
      };
      const dec = new NetflowDecoder({
        source: 'fuzz',
        unit: 'datagram',
        diagnostics: d,
        batchSize: 64,
        maxPendingSets: MAX_PENDING,
        onBatch,
      });
      let n = 0;
      forEachFrame(input, (exporter, datagram) => {
        dec.decode(datagram, EXPORTERS[exporter % EXPORTERS.length], 2055, n++, 1_700_000_000_000);
      });
      dec.finish();
      check(rows === d.get('records'), `${rows} rows handed downstream, 'records' says ${d.get('records')}`);
      let templates = 0;
      for (const s of dec.templates.all()) {
        templates += s.templates.size;
        check(s.pending.length <= MAX_PENDING, `${s.pending.length} pending sets kept for one session`);
      }
      check(
        templates <= d.get('templates.new'),
        `${templates} templates held, ${d.get('templates.new')} new`,
      );
    },
  };
}

export const netflowTargets: FuzzTarget[] = [
  netflowTarget('netflow-v5', 'NetFlow v5 export datagrams → NetflowDecoder'),
  netflowTarget('netflow-v9', 'NetFlow v9 export datagrams (templates, options, data) → NetflowDecoder'),
  netflowTarget('ipfix', 'IPFIX messages (templates, options, variable-length fields) → NetflowDecoder'),
];
