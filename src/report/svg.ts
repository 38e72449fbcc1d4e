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

/** A line chart of one timeline with its change points: onset line, level before and after. */
export function timelineSvg(tl: Timeline, width = 960, height = 240): string {
  const m = { l: 56, r: 16, t: 18, b: 34 };
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
  const x = (t: number) => m.l + ((t - t0) / (t1 - t0)) * w;
  const y = (v: number) => m.t + h - (v / top) * h;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(`${tl.label}: ${tl.unit}`)}" font-family="system-ui, sans-serif" font-size="11">`,
  );
  // Grid and y axis.
  for (let v = 0; v <= top + 1e-9; v += step) {
    out.push(
      `<line x1="${m.l}" x2="${m.l + w}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e7eb"/>`,
    );
    out.push(
      `<text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#4b5563">${fmtNum(v)}</text>`,
    );
  }
  // X axis: month starts when the span is long, else week starts.
  const span = t1 - t0;
  const ticks: number[] = [];
  const d = new Date(t0);
  if (span > 60 * 86400000) {
    for (let k = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).getTime(); k < t1;) {
      ticks.push(k);
      const e = new Date(k);
      k = Date.UTC(e.getUTCFullYear(), e.getUTCMonth() + 1, 1);
    }
  } else {
    const stepMs = span > 10 * 86400000 ? 7 * 86400000 : 86400000;
    for (let k = Math.ceil(t0 / stepMs) * stepMs; k < t1; k += stepMs) ticks.push(k);
  }
  for (const k of ticks) {
    out.push(
      `<line x1="${x(k).toFixed(1)}" x2="${x(k).toFixed(1)}" y1="${m.t + h}" y2="${m.t + h + 4}" stroke="#6b7280"/>`,
    );
    out.push(
      `<text x="${x(k).toFixed(1)}" y="${m.t + h + 16}" text-anchor="middle" fill="#4b5563">${new Date(k).toISOString().slice(0, 10)}</text>`,
    );
  }
  out.push(`<line x1="${m.l}" x2="${m.l + w}" y1="${m.t + h}" y2="${m.t + h}" stroke="#6b7280"/>`);
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
    const label = `${c.kind === 'increase' ? 'onset' : 'drop'} ${c.onset.slice(0, 10)} · ${c.shape} · p=${c.probability.toFixed(3)}`;
    const right = cx > m.l + w * 0.7;
    out.push(
      `<text x="${(cx + (right ? -4 : 4)).toFixed(1)}" y="${m.t + 10 + 12 * i}" text-anchor="${right ? 'end' : 'start'}" fill="${colour}" font-weight="600">${esc(label)}</text>`,
    );
  });
  out.push(`<text x="${m.l}" y="${m.t - 5}" fill="#111827" font-weight="600">${esc(tl.unit)}</text>`);
  out.push('</svg>');
  return out.join('');
}

/** Horizontal bars (top hosts, pools). */
export function barsSvg(rows: { label: string; value: number }[], unit: string, width = 960): string {
  const rowH = 18;
  const m = { l: 200, r: 70, t: 6 };
  const height = m.t + rows.length * rowH + 6;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const w = width - m.l - m.r;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(unit)}" font-family="system-ui, sans-serif" font-size="11">`,
  ];
  rows.forEach((r, i) => {
    const y = m.t + i * rowH;
    const bw = (r.value / max) * w;
    out.push(`<text x="${m.l - 6}" y="${y + 12}" text-anchor="end" fill="#111827">${esc(r.label)}</text>`);
    out.push(`<rect x="${m.l}" y="${y + 2}" width="${bw.toFixed(1)}" height="${rowH - 5}" fill="#60a5fa"/>`);
    out.push(`<text x="${(m.l + bw + 4).toFixed(1)}" y="${y + 12}" fill="#374151">${fmtNum(r.value)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}
