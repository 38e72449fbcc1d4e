/**
 * Target for SflowDecoder, fed datagrams as the live collector feeds them: one input is a sequence
 * of frames `[exporter: u8][length: u16 BE][datagram]` (fuzz/frames.ts), all decoded by one decoder
 * (per-agent sequence state carries from one datagram to the next). The agent table is capped low
 * so that the cap is exercised.
 */
import { Diagnostics } from '../../src/flow/diagnostics.js';
import type { FlowBatch } from '../../src/flow/record.js';
import { SflowDecoder } from '../../src/sflow/decoder.js';
import { forEachFrame } from '../frames.js';
import { check, type FuzzTarget } from '../target.js';
import { checkBatch } from './flow-checks.js';

const MAX_AGENTS = 4;

export const sflowTargets: FuzzTarget[] = [
  {
    name: 'sflow',
    description: 'sFlow v5 datagrams (flow, expanded and counter samples, raw headers) → SflowDecoder',
    invariants: [
      'decode() never throws on any bytes',
      "rows handed downstream = diagnostics 'records'",
      'every row: ip version 4 or 6, finite non-negative counters, times within a JS Date',
      'every row: packets 1, sampling rate >= 1',
      `agents with state <= maxAgents (${MAX_AGENTS})`,
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    tokens: [
      '\x00\x00\x00\x05',
      '\x00\x00\x00\x01',
      '\x00\x00\x00\x02',
      '\x00\x00\x00\x03',
      '\x00\x00\x00\x04',
      '\x00\x00\x00\x0b',
      '\x00\x00\x00\x0c',
      '\x00\x00\x03\xe9',
      '\x00\x00\x03\xea',
      '\x00\x00\x00\x00',
      '\xff\xff\xff\xff',
      '\x08\x00\x45\x00',
      '\x86\xdd\x60\x00',
    ],
    async run(input) {
      const d = new Diagnostics(10);
      let rows = 0;
      const onBatch = (b: FlowBatch) => {
        checkBatch(b, 'sflow');
        for (let i = 0; i < b.length; i++) {
          check(b.packets[i] === 1, `row ${i}: ${b.packets[i]} packets`);
          check(b.samplingRate[i] >= 1, `row ${i}: sampling rate ${b.samplingRate[i]}`);
        }
        rows += b.length;
      };
      const dec = new SflowDecoder({
        source: 'fuzz',
        unit: 'datagram',
        diagnostics: d,
        batchSize: 64,
        maxAgents: MAX_AGENTS,
        onBatch,
      });
      let n = 0;
      forEachFrame(input, (_exporter, datagram) => dec.decode(datagram, n++, 1_700_000_000_000));
      dec.finish();
      check(rows === d.get('records'), `${rows} rows handed downstream, 'records' says ${d.get('records')}`);
      const agents = dec.agentStats().length;
      check(agents <= MAX_AGENTS, `${agents} agents with state`);
    },
  },
];
