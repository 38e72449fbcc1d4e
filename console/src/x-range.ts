/**
 * The time axis's scale for a chart's bucket starts (seconds): uPlot's own, except for a single
 * bucket (a store's first day), which uPlot pads by years; then one bucket either side of it.
 */
export function xScale(
  xs: number[],
  bucketMs: number,
): { time: true; auto?: false; range?: [number, number] } {
  if (xs.length !== 1) return { time: true };
  const b = bucketMs / 1000;
  return { time: true, auto: false, range: [xs[0] - b, xs[0] + b] };
}
