/** Inline SVG charts for the report: no scripts, no fonts or images from the network. */
import type { Timeline } from './model.js';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const p = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(x / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(0)}k`;
  if (a >= 100 || Number.isInteger(x)) return x.toFixed(0);
  return x.toFixed(a >= 10 ? 1 : 2);
}

const DAY_MS = 86400000;
const LABELLED = 3;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export interface TimeTick {
  t: number;
  label: string;
}

/**
 * Date ticks for [t0, t1): days, weeks (Mondays) or months (1st) with a step chosen so that about
 * 5–12 ticks fall in the span. Labels are short ("17 May"); the year is written on the first tick
 * and wherever it changes, so a reader never has to guess it.
 */
export function timeTicks(t0: number, t1: number): TimeTick[] {
  const days = (t1 - t0) / DAY_MS;
  const out: number[] = [];
  if (days <= 150) {
    // Days, or weeks from a Monday (1970-01-05 was one).
    const stepDays = days <= 12 ? 1 : days <= 24 ? 2 : days <= 36 ? 3 : days <= 100 ? 7 : 14;
    const anchor = stepDays === 7 ? 4 * DAY_MS : 0;
    const step = stepDays * DAY_MS;
    for (let k = Math.ceil((t0 - anchor) / step) * step + anchor; k < t1; k += step) out.push(k);
  } else {
    const months = days <= 400 ? 1 : days <= 800 ? 2 : days <= 1200 ? 3 : days <= 2400 ? 6 : 12;
    const d = new Date(t0);
    let y = d.getUTCFullYear();
    let m = d.getUTCMonth();
    if (Date.UTC(y, m, 1) < t0) m++;
    m = Math.ceil(m / months) * months;
    for (let k = Date.UTC(y, m, 1); k < t1; k = Date.UTC(y, m, 1)) {
      out.push(k);
      m += months;
      if (m >= 12) {
        y += Math.floor(m / 12);
        m %= 12;
      }
    }
  }
  let year = -1;
  return out.map((t) => {
    const d = new Date(t);
    const yy = d.getUTCFullYear();
    const first = d.getUTCDate() === 1 && days > 150;
    let label = first ? MONTHS[d.getUTCMonth()] : `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
    if (yy !== year) label += ` ${yy}`;
    year = yy;
    return { t, label };
  });
}

/**
 * A line chart of one timeline with its changes: onset line and its 95 % interval as a band, the
 * level before and after as dashed segments; a date axis and a y axis, each with its title.
 */
export function timelineSvg(tl: Timeline, width = 960, height = 260): string {
  // Change labels sit above the plot, one line each (at most LABELLED; the table has them all).
  const labelled = Math.min(tl.changes.length, LABELLED);
  const m = { l: 64, r: 16, t: 8 + 13 * Math.max(1, labelled), b: 44 };
  height += m.t - 21;
  const w = width - m.l - m.r;
  const h = height - m.t - m.b;
  const pts = tl.points;
  if (pts.length === 0)
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="40" role="img"><text x="8" y="24" font-size="13">no data</text></svg>`;
  const t0 = pts[0].t;
  const t1 = pts[pts.length - 1].t + tl.bucketMs;
  let max = 0;
  for (const p of pts) if (p.value > max) max = p.value;
  const step = niceStep(max || 1, 4);
  const top = Math.ceil((max || 1) / step) * step;
  const x = (t: number) => m.l + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * w;
  const y = (v: number) => m.t + h - (v / top) * h;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(`${tl.label}: ${tl.unit} by date`)}" font-family="system-ui, sans-serif" font-size="11">`,
  );
  // The onset intervals first, so the series is drawn over them.
  for (const c of tl.changes) {
    const lo = x(Date.parse(c.onsetInterval[0]));
    const hi = x(Date.parse(c.onsetInterval[1]) + tl.bucketMs);
    const colour = c.kind === 'increase' ? '#fecaca' : '#ddd6fe';
    out.push(
      `<rect x="${lo.toFixed(1)}" y="${m.t}" width="${Math.max(1, hi - lo).toFixed(1)}" height="${h}" fill="${colour}" opacity="0.6"><title>95 % interval of the ${c.kind === 'increase' ? 'onset' : 'drop'}: ${esc(c.onsetInterval[0].slice(0, 10))} – ${esc(c.onsetInterval[1].slice(0, 10))}</title></rect>`,
    );
  }
  // Grid and y axis.
  for (let v = 0; v <= top + 1e-9; v += step) {
    out.push(
      `<line x1="${m.l}" x2="${m.l + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e7eb"/>`,
    );
    out.push(
      `<text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#4b5563">${fmtNum(v)}</text>`,
    );
  }
  out.push(
    `<text transform="translate(14 ${(m.t + h / 2).toFixed(1)}) rotate(-90)" text-anchor="middle" fill="#111827">${esc(tl.unit)}</text>`,
  );
  // Date axis.
  for (const k of timeTicks(t0, t1)) {
    out.push(
      `<line x1="${x(k.t).toFixed(1)}" x2="${x(k.t).toFixed(1)}" y1="${m.t + h}" y2="${m.t + h + 4}" stroke="#6b7280"/>`,
    );
    out.push(
      `<text x="${x(k.t).toFixed(1)}" y="${m.t + h + 16}" text-anchor="middle" fill="#4b5563">${esc(k.label)}</text>`,
    );
  }
  out.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${m.t + h}" y2="${m.t + h}" stroke="#6b7280"/>`);
  out.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + h}" stroke="#6b7280"/>`);
  const bucket =
    tl.bucketMs === DAY_MS
      ? 'one point per day'
      : tl.bucketMs === 3600000
        ? 'one point per hour'
        : 'per bucket';
  out.push(
    `<text x="${(m.l + w / 2).toFixed(1)}" y="${height - 6}" text-anchor="middle" fill="#111827">date (UTC, ${bucket})</text>`,
  );
  // The series, broken at unobserved buckets.
  let path = '';
  let pen = false;
  for (const p of pts) {
    if (p.observed === false) {
      pen = false;
      continue;
    }
    const px = x(p.t + tl.bucketMs / 2).toFixed(1);
    const py = y(p.value).toFixed(1);
    path += `${pen ? 'L' : 'M'}${px},${py}`;
    pen = true;
  }
  out.push(`<path d="${path}" fill="none" stroke="#2563eb" stroke-width="1.6"/>`);
  for (const p of pts) {
    if (p.observed === false)
      out.push(
        `<rect x="${x(p.t).toFixed(1)}" y="${m.t}" width="${Math.max(1, x(p.t + tl.bucketMs) - x(p.t)).toFixed(1)}" height="${h}" fill="#f3f4f6"><title>not observed</title></rect>`,
      );
  }
  // Changes: a vertical line at the onset; the level before and after as dashed segments.
  tl.changes.forEach((c, i) => {
    const cx = x(c.onsetMs);
    const colour = c.kind === 'increase' ? '#dc2626' : '#7c3aed';
    const prevEnd = cx;
    const nextStart = i + 1 < tl.changes.length ? x(tl.changes[i + 1].onsetMs) : m.l + w;
    const prevStart = i > 0 ? x(tl.changes[i - 1].onsetMs) : m.l;
    out.push(
      `<line x1="${prevStart.toFixed(1)}" x2="${prevEnd.toFixed(1)}" y1="${y(c.before).toFixed(1)}" y2="${y(c.before).toFixed(1)}" stroke="${colour}" stroke-dasharray="3 3" opacity="0.7"/>`,
    );
    out.push(
      `<line x1="${cx.toFixed(1)}" x2="${nextStart.toFixed(1)}" y1="${y(c.after).toFixed(1)}" y2="${y(c.after).toFixed(1)}" stroke="${colour}" stroke-dasharray="3 3" opacity="0.7"/>`,
    );
    out.push(
      `<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${m.t}" y2="${m.t + h}" stroke="${colour}" stroke-width="1.5"/>`,
    );
    const iv =
      c.onsetInterval[0] === c.onsetInterval[1]
        ? ''
        : ` (95 %: ${c.onsetInterval[0].slice(5, 10)} – ${c.onsetInterval[1].slice(5, 10)})`;
    const label = `${c.kind === 'increase' ? 'onset' : 'drop'} ${c.onset.slice(0, 10)}${iv} · ${c.shape} · p=${c.probability.toFixed(3)}`;
    if (i >= LABELLED) {
      out.push(`<title>${esc(label)}</title>`);
      return;
    }
    const right = cx > m.l + w * 0.6;
    out.push(
      `<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${m.t - 13 * (labelled - i) + 2}" y2="${m.t}" stroke="${colour}" stroke-width="1" opacity="0.6"/>`,
    );
    out.push(
      `<text x="${(cx + (right ? -4 : 4)).toFixed(1)}" y="${m.t - 13 * (labelled - i - 1) - 4}" text-anchor="${right ? 'end' : 'start'}" fill="${colour}" font-weight="600">${esc(label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('');
}

/**
 * Horizontal bars (top hosts, pools); `unit` is what a bar counts ("flows"): it titles the chart
 * and follows every value, so a bar read alone still says what it measures.
 */
export function barsSvg(
  rows: { label: string; value: number }[],
  unit: string,
  width = 960,
  title = unit,
): string {
  const rowH = 18;
  const m = { l: 200, r: 110, t: 22 };
  const height = m.t + rows.length * rowH + 6;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const w = width - m.l - m.r;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(title)}" font-family="system-ui, sans-serif" font-size="11">`,
    `<text x="${m.l}" y="13" fill="#111827" font-weight="600">${esc(title)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = m.t + i * rowH;
    const bw = (r.value / max) * w;
    out.push(`<text x="${m.l - 6}" y="${y + 12}" text-anchor="end" fill="#111827">${esc(r.label)}</text>`);
    out.push(`<rect x="${m.l}" y="${y + 2}" width="${bw.toFixed(1)}" height="${rowH - 5}" fill="#60a5fa"/>`);
    out.push(
      `<text x="${(m.l + bw + 4).toFixed(1)}" y="${y + 12}" fill="#374151">${fmtNum(r.value)} ${esc(unit)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('');
}
