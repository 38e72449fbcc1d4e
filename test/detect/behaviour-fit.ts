/**
 * How the behaviour rules were fitted (run: node --import tsx test/detect/behaviour-fit.ts).
 * A grid over the rule bounds, scored on the TRAINING split only (behaviour-data.ts) by
 * TP rate − 3 × FP rate; ties go to the highest ACK+PSH bound, then the tightest RST, FIN and SYN
 * bounds. The winner is written into src/detect/behaviour.ts (BEHAVIOUR_RULES) by hand.
 */
import type { BehaviourFeatures } from '../../src/detect/behaviour.js';
import { behaviourSplit } from './behaviour-data.js';

const sp = behaviourSplit();
const results: {
  apMin: number;
  bppMax: number;
  synMax: number;
  rstMax: number;
  finMax: number;
  tp: number;
  fp: number;
  obj: number;
}[] = [];
for (const apMin of [70, 75, 80, 85, 90])
  for (const bppMax of [110, 120, 200, 400, 1000])
    for (const synMax of [10, 20, 35, 50])
      for (const rstMax of [5, 25, 35, 50])
        for (const finMax of [5, 10, 25]) {
          const ok = (f: BehaviourFeatures) =>
            f.ackpush >= apMin &&
            f.bytesPerPacket >= 40 &&
            f.bytesPerPacket <= bppMax &&
            f.requests >= 50 &&
            f.syn <= synMax &&
            f.rst <= rstMax &&
            f.fin <= finMax;
          const tp = sp.train.pos.filter((g) => ok(g.features)).length / sp.train.pos.length;
          const fp = sp.train.neg.filter((g) => ok(g.features)).length / sp.train.neg.length;
          results.push({ apMin, bppMax, synMax, rstMax, finMax, tp, fp, obj: tp - 3 * fp });
        }
results.sort(
  (a, b) =>
    b.obj - a.obj ||
    b.apMin - a.apMin ||
    a.rstMax - b.rstMax ||
    a.finMax - b.finMax ||
    a.synMax - b.synMax ||
    a.bppMax - b.bppMax,
);
console.log(`training: ${sp.train.pos.length} miner groups, ${sp.train.neg.length} other groups`);
console.log('best:', results[0]);
