/**
 * The bridge from stored buckets to surge detection, independent of the store engine: pick a
 * measure, mark unobserved buckets, run the detector.
 */
import { detectSurges, type CountSeries, type SurgeOptions, type SurgeResult } from './surge.js';

export type SeriesMeasure = 'flows' | 'packets' | 'sources';

/** What a store hands over (store/duckdb/series.ts produces it). */
export interface BucketSeries {
  bucketMs: number;
  buckets: { bucketMs: number; flows: number; packets: number; sources: number; observed: boolean }[];
}

/**
 * Counts for the detector. Raw (as exported) counts keep the count likelihood honest under 1:N
 * sampling; sampling-corrected estimates are for display.
 */
export function countSeries(
  label: string,
  data: BucketSeries,
  measure: SeriesMeasure = 'flows',
): CountSeries {
  return {
    label,
    bucketMs: data.bucketMs,
    timesMs: data.buckets.map((b) => b.bucketMs),
    counts: data.buckets.map((b) => b[measure]),
    exposure: data.buckets.map((b) => (b.observed ? 1 : 0)),
  };
}

export function surgeOfBuckets(
  label: string,
  data: BucketSeries,
  measure: SeriesMeasure = 'flows',
  opts: SurgeOptions = {},
): SurgeResult {
  const period = opts.period ?? (data.bucketMs === 3600000 ? 168 : 7);
  return detectSurges(countSeries(label, data, measure), { ...opts, period });
}
