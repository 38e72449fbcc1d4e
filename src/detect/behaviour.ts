/**
 * The `mining-behaviour` detection: a trained model (src/detect/classifier, data in
 * src/detect/data/behaviour-model.json) judges a (client, server, server port)'s flows over a
 * time window from flow features alone — NetFlow/IPFIX, Zeek conn.log, or captures, payload or
 * not. Confidence stays `behaviour`. Features, training data and cross-validated rates:
 * docs/detection-rules.md.
 */
import { FEATURE_NAMES } from './classifier/features.js';
import { topFeatures, type BehaviourModel } from './classifier/model.js';
import type { Detection } from './types.js';

export interface BehaviourWindow {
  key: string;
  score: number;
  features: ArrayLike<number>;
  records: number;
  connections: number;
  spanMs: number;
  /** Where the window starts (ms) and how it was taken. */
  windowFromMs: number;
  windowKind: 'sliding' | 'tumbling';
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function behaviourDetection(m: BehaviourModel, w: BehaviourWindow): Detection {
  const top = topFeatures(m, w.features);
  const minutes = Math.round(w.spanMs / 6000) / 10;
  const window = `${new Date(w.windowFromMs).toISOString()} + ${m.windowMs / 60000} min (${w.windowKind})`;
  return {
    label: 'mining-behaviour',
    coin: '',
    confidence: 'behaviour',
    evidence: {
      rule: 'behaviour.model',
      detail: `flow shape of a miner: model ${m.version} scored ${r3(w.score)} (threshold ${m.threshold}) over ${w.records} record(s), ${w.connections} connection(s), ${minutes} min; most telling: ${top.map((t) => `${t.feature}=${t.value}`).join(', ')}`,
      model: m.version,
      score: r3(w.score),
      threshold: m.threshold,
      group: w.key,
      window,
      records: w.records,
      connections: w.connections,
      spanMinutes: minutes,
      top,
      features: Object.fromEntries(FEATURE_NAMES.map((f, k) => [f, r3(w.features[k])])),
    },
    artifacts: [],
  };
}
