/**
 * Small captures of fragmented traffic, built in code: a Stratum login from client to pool sent
 * in fragments, in each of the ways reassembly must handle. Seeds of the fuzz corpus
 * (fuzz/make-corpus.ts), so that mutation starts inside every reassembly path.
 */
import {
  cut,
  ether,
  ipv4,
  ipv4Fragment,
  ipv6Fragment,
  pcapFile,
  transport,
  type SynthPacket,
} from './synth.js';
import { C4, C6, LOGIN, S4, S6 } from './tunnel-synth.js';

const SEGMENT = transport({ proto: 6, sport: 40001, dport: 3333, flags: 0x18, seq: 1, payload: LOGIN });

const v4 = (at: number[], id = 5, data = SEGMENT, proto = 6, src = C4, dst = S4) =>
  cut(data, at).map(([offset, d, more]) =>
    ether(ipv4Fragment(src, dst, { proto, id, offset, more, data: d })),
  );

export interface FragmentCase {
  name: string;
  frames: () => Buffer[];
}

export const FRAGMENT_CASES: FragmentCase[] = [
  { name: 'ipv4 in order', frames: () => v4([0, 64, 128]) },
  { name: 'ipv4 last first', frames: () => v4([0, 64, 128]).reverse() },
  {
    name: 'ipv4 overlapping',
    frames: () => {
      const [a, b] = v4([0, 64]);
      const other = Buffer.alloc(48, 0x41);
      return [a, ether(ipv4Fragment(C4, S4, { proto: 6, id: 5, offset: 32, more: true, data: other })), b];
    },
  },
  {
    name: 'ipv4 duplicate',
    frames: () => {
      const f = v4([0, 64, 128]);
      return [f[0], f[1], f[1], f[2]];
    },
  },
  { name: 'ipv4 tiny first fragment', frames: () => v4([0, 8]) },
  { name: 'ipv4 never completed', frames: () => v4([0, 64, 128]).slice(0, 2) },
  {
    name: 'ipv6 after extension headers',
    frames: () =>
      cut(SEGMENT, [0, 96]).map(([offset, data, more]) =>
        ether(
          ipv6Fragment(C6, S6, { proto: 6, id: 77, offset, more, data }, [
            { type: 0, body: Buffer.alloc(6) },
            { type: 60, body: Buffer.alloc(14) },
          ]),
        ),
      ),
  },
  {
    name: 'ipv4 ip-in-ip outer fragments',
    frames: () =>
      v4(
        [0, 48],
        9,
        ipv4(C4, S4, { proto: 6, sport: 40001, dport: 3333, flags: 0x18, payload: LOGIN }),
        4,
        '192.0.2.1',
        '192.0.2.2',
      ),
  },
];

export function fragmentPcap(c: FragmentCase): Buffer {
  const packets: SynthPacket[] = c.frames().map((data, k) => ({ tsMs: 1_500_000_000_000 + k, data }));
  return pcapFile(packets);
}
