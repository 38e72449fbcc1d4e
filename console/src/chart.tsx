/**
 * A time series chart (uPlot: canvas, fast for thousands of points) with each surge drawn on it:
 * the onset's 95 % interval shaded and the onset a vertical line. The same surges are listed as
 * text under the chart by the pages, so they can be read without the canvas.
 */
import { xScale } from './x-range';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Series, SurgeChange } from './api';

export const COLORS = [
  '#1f4e79',
  '#c0392b',
  '#27ae60',
  '#8e44ad',
  '#d35400',
  '#16a085',
  '#7f8c8d',
  '#2c3e50',
];

export interface ChartProps {
  series: Pick<Series, 'label' | 'points'>[];
  /** Draw the first series against its own axis on the right (all flows dwarf the crypto kinds). */
  firstOnRight?: boolean;
  /** Surges to draw, each with the index of its series (colour). */
  changes?: { series: number; change: SurgeChange }[];
  bucketMs: number;
  height?: number;
  title: string;
}

export function TimeChart({ series, changes = [], bucketMs, height = 280, title, firstOnRight }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || series.length === 0) return;
    const xs = series[0].points.map((p) => p[0] / 1000);
    const data: uPlot.AlignedData = [xs, ...series.map((s) => s.points.map((p) => (p[2] ? p[1] : null)))];
    const drawSurges = (u: uPlot) => {
      const ctx = u.ctx;
      const top = u.bbox.top;
      const h = u.bbox.height;
      ctx.save();
      for (const { series: i, change } of changes) {
        const color = COLORS[i % COLORS.length];
        const a = u.valToPos(Date.parse(change.onsetInterval[0]) / 1000, 'x', true);
        const b = u.valToPos((Date.parse(change.onsetInterval[1]) + bucketMs) / 1000, 'x', true);
        ctx.globalAlpha = 0.15;
        ctx.fillStyle = color;
        ctx.fillRect(a, top, Math.max(2, b - a), h);
        ctx.globalAlpha = 1;
        ctx.strokeStyle = color;
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 2;
        const x = u.valToPos(change.onsetMs / 1000, 'x', true);
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + h);
        ctx.stroke();
      }
      ctx.restore();
    };
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height,
        scales: { x: xScale(xs, bucketMs) },
        series: [
          {},
          ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5 })),
        ],
        axes: [{}, { size: 60 }],
        hooks: { draw: [drawSurges] },
      },
      data,
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(320, el.clientWidth), height });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [series, changes, bucketMs, height, firstOnRight]);
  return <div class="chart" ref={box} role="img" aria-label={title} />;
}

/** One surge in words, as `coinradar surge` prints it. */
export function surgeText(c: SurgeChange, bucketMs: number): string {
  const d = (s: string) => s.slice(0, bucketMs < 86_400_000 ? 16 : 10).replace('T', ' ');
  const shape =
    c.shape === 'exponential' && c.doublingBuckets
      ? `exponential, doubling every ${c.doublingBuckets.toFixed(1)} ${bucketMs < 86_400_000 ? 'hours' : 'days'}`
      : c.shape;
  return `${c.kind} from ${c.before.toFixed(1)} to ${c.after.toFixed(1)} per bucket; onset ${d(c.onset)} (95 % interval ${d(c.onsetInterval[0])} – ${d(c.onsetInterval[1])}); ${shape}; probability ${c.probability.toFixed(3)}`;
}
