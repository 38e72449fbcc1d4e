/**
 * The collector's spool file (src/netflow/spool.ts) as a collector finds it after a crash, a full
 * disk or someone else's hand: any bytes as DIR/held.spool, opened by Spool.open, every record it
 * keeps read back. The file is local, but it is read at start by a process that then serves the
 * network: it must say what is wrong and where, and go on with what reads.
 */
import { rmSync, statSync } from 'node:fs';
import { Spool } from '../../src/netflow/spool.js';
import { check, type FuzzTarget } from '../target.js';
import { scratchDir, scratchFile } from '../scratch.js';

export const spoolTargets: FuzzTarget[] = [
  {
    name: 'spool',
    description: "any bytes as the collector's spool file → Spool.open and every record it keeps read back",
    invariants: [
      'open throws only its documented error for a file that is not a spool (byte 0, no "CRSPOOL1" header)',
      'every problem names a byte offset inside the file, and the file is cut there',
      'the records kept lie back to back from byte 16 and each reads back with its flows',
      'terminates (10 s per input), resident memory < 1.5 GB',
    ],
    tokens: ['CRSPOOL1', 'CRSB', '\u0000\u0000\u0000\u0000', '\u00ff\u00ff\u00ff\u00ff'],
    expected: (e) => /held\.spool: byte 0: not a coinradar spool/.test(String((e as Error)?.message)),
    async run(input) {
      const file = scratchFile('held.spool', input);
      rmSync(`${file}.state`, { force: true });
      rmSync(`${file}.lock`, { force: true });
      const { spool, left, problems } = Spool.open(scratchDir(), 2 ** 30);
      try {
        const size = statSync(file).size;
        for (const p of problems) {
          check(p.unit === 'byte' && p.offset >= 16 && p.offset <= input.length, `problem at ${p.offset}`);
          check(size === p.offset, `the file is ${size} bytes, not cut at the problem's ${p.offset}`);
        }
        let at = 16;
        for (const ref of left) {
          check(ref.offset === at, `a record at ${ref.offset}, the one before ended at ${at}`);
          at += ref.bytes;
          const b = spool.read(ref);
          check(
            b.length === ref.flows && b.firstMs.length === ref.flows,
            `${b.length} flows, ${ref.flows} said`,
          );
        }
        check(
          left.length === 0 || at <= input.length,
          `records end at ${at}, past the input's ${input.length} bytes`,
        );
      } finally {
        spool.close();
      }
    },
  },
];
