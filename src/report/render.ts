/**
 * Renders an InvestigationReport as one self-contained HTML file (inline CSS and SVG, nothing
 * fetched) and as Markdown. Layout only: every figure comes from the report object.
 */
import type { Range } from '../analysis/estimate.js';
import type { HostRow, InvestigationReport } from './model.js';
import { barsSvg, esc, fmtNum, timelineSvg } from './svg.js';

export function fmtRange(r: Range | undefined, unit = '', digits = 3): string {
  if (!r) return '–';
  const f = (x: number) =>
    Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0)
      ? x.toExponential(2)
      : Number(x.toPrecision(digits)).toString();
  return `${f(r.mid)} (${f(r.low)}–${f(r.high)})${unit ? ` ${unit}` : ''}`;
}

export function fmtHashrate(r: Range | undefined): string {
  if (!r) return '–';
  const units: [number, string][] = [
    [1e15, 'PH/s'],
    [1e12, 'TH/s'],
    [1e9, 'GH/s'],
    [1e6, 'MH/s'],
    [1e3, 'kH/s'],
    [1, 'H/s'],
  ];
  const [d, u] = units.find(([k]) => r.mid >= k) ?? [1, 'H/s'];
  return fmtRange({ low: r.low / d, mid: r.mid / d, high: r.high / d }, u);
}

const HOST_COLUMNS = [
  'host',
  'flows',
  'packets',
  'bytes',
  'first seen',
  'first strong evidence',
  'last seen',
  'sessions',
  'duty cycle',
  'coins',
  'labels',
];

/** The cells after the host's address, as text (escaped by the HTML caller). */
function hostCells(h: HostRow): string[] {
  return [
    fmtNum(h.flows),
    fmtNum(h.packets),
    fmtNum(h.bytes),
    h.firstSeen,
    h.firstStrong ?? '–',
    h.lastSeen,
    h.sessions === undefined ? '–' : fmtNum(h.sessions),
    h.dutyCycle === undefined ? '–' : `${(h.dutyCycle * 100).toFixed(0)} %`,
    (h.coins ?? []).join(', '),
    h.labels.join(', '),
  ];
}

// Long addresses (wallets, IPv6) wrap anywhere rather than push the table off the page; dates and
// ids in `td.k` cells keep to one line. Print: the full page width, fixed table layout for the
// tables whose columns are given widths, charts and rows not split across pages.
const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#111827;max-width:1000px;margin:24px auto;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 4px}.meta{color:#4b5563;margin-bottom:12px}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:12.5px}
table.fixed{table-layout:fixed}table.fixed td,table.fixed code{overflow-wrap:anywhere;word-break:break-all}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f9fafb;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.k{white-space:nowrap}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 3px;border-radius:3px;overflow-wrap:break-word}
ul.findings li{margin:3px 0}.note{color:#4b5563;font-size:12.5px}.kind{font-size:11px;color:#fff;background:#6b7280;border-radius:3px;padding:0 4px}
.lag{border-left:3px solid #d97706;background:#fffbeb;padding:6px 10px;margin:8px 0}
svg{max-width:100%;height:auto}
@page{size:A4;margin:12mm}
@media print{body{max-width:none;margin:0;padding:0;font-size:11px}table{font-size:10px}code{font-size:9.5px}svg,tr,.lag{break-inside:avoid}h2,h3{break-after:avoid}}
`;

/**
 * An HTML table; `numeric` columns are right-aligned, `keep` columns (dates, ids) never wrap;
 * `widths` (percent per column) fix the layout so that long cells wrap inside the page.
 */
function table(
  head: string[],
  rows: string[][],
  numeric: boolean[] = [],
  keep: boolean[] = [],
  widths: number[] = [],
): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const cls = (i: number) => (numeric[i] ? ' class="n"' : keep[i] ? ' class="k"' : '');
  const tr = rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`).join('');
  const cols = widths.length
    ? `<colgroup>${widths.map((w) => `<col style="width:${w}%">`).join('')}</colgroup>`
    : '';
  return `<table${widths.length ? ' class="fixed"' : ''}>${cols}<thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

export function renderHtml(r: InvestigationReport): string {
  const p: string[] = [];
  p.push(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
  );
  p.push(`<title>${esc(r.title)}</title><style>${CSS}</style></head><body>`);
  p.push(`<h1>${esc(r.title)}</h1>`);
  p.push(
    `<div class="meta">Scope: ${esc(r.scope)} · Period: ${esc(r.period.from)} to ${esc(r.period.to)} · Generated ${esc(r.generatedAt)}</div>`,
  );
  p.push('<h2>Findings</h2><ul class="findings">');
  for (const f of r.findings) p.push(`<li>${esc(f)}</li>`);
  p.push('</ul>');
  p.push('<h2>Activity timeline</h2>');
  for (const tl of r.timelines) {
    p.push(`<h3>${esc(tl.label)}</h3>${timelineSvg(tl)}`);
    if (tl.lag) p.push(`<p class="lag">${esc(tl.lag.text)}</p>`);
  }
  p.push('<h2>What changed</h2>');
  const changes = r.timelines.flatMap((t) => t.changes.map((c) => ({ t, c })));
  if (changes.length === 0) p.push('<p>No change with posterior probability above the threshold.</p>');
  else
    p.push(
      table(
        ['series', 'kind', 'onset (95 % interval)', 'before', 'after', 'shape', 'rate', 'probability'],
        changes.map(({ t, c }) => [
          esc(c.label),
          esc(c.kind),
          `${esc(c.onset.slice(0, 10))} (${esc(c.onsetInterval[0].slice(0, 10))} – ${esc(c.onsetInterval[1].slice(0, 10))})`,
          `${fmtNum(c.before)} ${esc(t.unit)}`,
          `${fmtNum(c.after)} ${esc(t.unit)}`,
          esc(c.shape),
          c.shape === 'exponential'
            ? `${c.rate.toFixed(3)} per bucket (doubling ${c.doublingBuckets!.toFixed(1)})`
            : c.shape === 'linear'
              ? `+${fmtNum(c.rate)} per bucket²`
              : '–',
          c.probability.toFixed(4),
        ]),
        [false, false, false, true, true, false, false, true],
      ),
    );
  p.push('<h2>Top hosts</h2>');
  if (r.hosts.length) {
    p.push(
      barsSvg(
        r.hosts.slice(0, 15).map((h) => ({ label: h.host, value: h.flows })),
        'flows',
        960,
        'flows per host to crypto ports or catalogued pool addresses, whole period',
      ),
    );
    p.push(
      table(
        HOST_COLUMNS,
        r.hosts.map((h) => [`<code>${esc(h.host)}</code>`, ...hostCells(h).map(esc)]),
        [false, true, true, true, false, false, false, true, true, false, false],
        [true, false, false, false, true, true, true],
      ),
    );
  } else p.push('<p>None.</p>');
  p.push('<h2>Pools</h2>');
  p.push(
    r.pools.length
      ? table(
          ['endpoint', 'pool', 'hosts', 'flows', 'first seen'],
          r.pools.map((x) => [
            `<code>${esc(x.endpoint)}</code>`,
            esc(x.name),
            fmtNum(x.hosts),
            fmtNum(x.flows),
            esc(x.firstSeen),
          ]),
          [false, false, true, true],
        )
      : '<p>None.</p>',
  );
  p.push('<h2>Wallets</h2>');
  p.push(
    r.wallets.length
      ? table(
          ['wallet', 'coin', 'hosts', 'workers', 'evidence', 'sanctions'],
          r.wallets.map((w) => [
            `<code>${esc(w.wallet)}</code>`,
            esc(w.coin),
            esc(w.hosts.join(', ')),
            esc(w.workers.join(', ')),
            esc(w.evidence),
            w.screening?.startsWith('LISTED')
              ? `<strong>${esc(w.screening)}</strong>`
              : esc(w.screening ?? 'not screened'),
          ]),
          [],
          [],
          [34, 6, 14, 12, 22, 12],
        )
      : '<p>None seen (wallets need Stratum payload: a capture or payload samples).</p>',
  );
  p.push('<h2>Estimates</h2>');
  if (r.estimates.length === 0) p.push('<p>None.</p>');
  else {
    p.push(
      table(
        [
          'subject',
          'coin',
          'hash rate',
          'revenue (coin)',
          'revenue (USD)',
          'power (W)',
          'electricity (USD)',
          'period',
        ],
        r.estimates.map((e) => [
          esc(e.subject),
          esc(e.coin),
          `${esc(fmtHashrate(e.hashrate))}${e.hashrateMethod ? `<div class="note">${esc(e.hashrateMethod)}</div>` : ''}` +
            (e.shareTimeHashrate
              ? `<div>${esc(fmtHashrate(e.shareTimeHashrate))}</div><div class="note">${esc(e.shareTimeMethod ?? '')}</div>`
              : ''),
          ...(e.revenueNote && !e.revenueCoin
            ? [
                '<span class="note">not estimated (why: below the table)</span>',
                '<span class="note">not estimated</span>',
              ]
            : [esc(fmtRange(e.revenueCoin, e.coin)), esc(fmtRange(e.revenueUsd, 'USD'))]),
          esc(fmtRange(e.powerWatts, 'W')),
          esc(fmtRange(e.electricityUsd, 'USD')),
          e.period ? esc(`${e.period.from} – ${e.period.to} (${e.period.days} d)`) : '–',
        ]),
      ),
    );
    // Why revenue is missing, once per reason, with the rows it concerns.
    const why = new Map<string, string[]>();
    for (const e of r.estimates)
      if (e.revenueNote && !e.revenueCoin)
        why.set(e.revenueNote, [...(why.get(e.revenueNote) ?? []), e.subject]);
    for (const [note, subjects] of why)
      p.push(`<p class="note">Revenue of ${esc(subjects.join('; '))}: ${esc(note)}</p>`);
    p.push('<h3>Assumptions</h3>');
    const seen = new Set<string>();
    const rows: string[][] = [];
    for (const e of r.estimates) {
      for (const a of e.assumptions) {
        const k = `${a.name}|${a.value}|${a.source}`;
        if (seen.has(k)) continue;
        seen.add(k);
        rows.push([esc(a.name), esc(a.value), esc(a.source)]);
      }
    }
    p.push(table(['assumption', 'value', 'source'], rows));
  }
  p.push('<h2>Evidence</h2>');
  p.push(
    table(
      ['claim', 'supported by'],
      r.evidence.map((c) => [
        esc(c.claim),
        c.support
          .map(
            (s) =>
              `<span class="kind">${esc(s.kind)}</span> <code>${esc(s.ref)}</code>${s.detail ? ` — ${esc(s.detail)}` : ''}`,
          )
          .join('<br>'),
      ]),
    ),
  );
  if (r.notes.length) {
    p.push('<h2>Notes on method</h2><ul>');
    for (const n of r.notes) p.push(`<li class="note">${esc(n)}</li>`);
    p.push('</ul>');
  }
  p.push('</body></html>\n');
  return p.join('\n');
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function mdTable(head: string[], rows: string[][]): string {
  return [
    `| ${head.map(mdCell).join(' | ')} |`,
    `|${head.map(() => ' --- ').join('|')}|`,
    ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ].join('\n');
}

export function renderMarkdown(r: InvestigationReport): string {
  const p: string[] = [];
  p.push(
    `# ${r.title}`,
    '',
    `Scope: ${r.scope} · Period: ${r.period.from} to ${r.period.to} · Generated ${r.generatedAt}`,
    '',
    '## Findings',
    '',
  );
  for (const f of r.findings) p.push(`- ${f}`);
  const lags = r.timelines.filter((t) => t.lag);
  if (lags.length) p.push('');
  for (const t of lags) p.push(`> ${t.lag!.text}`);
  p.push('', '## What changed', '');
  const changes = r.timelines.flatMap((t) => t.changes.map((c) => ({ t, c })));
  p.push(
    changes.length
      ? mdTable(
          ['series', 'kind', 'onset', '95 % interval', 'before', 'after', 'shape', 'rate', 'probability'],
          changes.map(({ t, c }) => [
            c.label,
            c.kind,
            c.onset.slice(0, 10),
            `${c.onsetInterval[0].slice(0, 10)} – ${c.onsetInterval[1].slice(0, 10)}`,
            `${fmtNum(c.before)} ${t.unit}`,
            `${fmtNum(c.after)} ${t.unit}`,
            c.shape,
            c.shape === 'exponential'
              ? `${c.rate.toFixed(3)}/bucket (doubling ${c.doublingBuckets!.toFixed(1)})`
              : c.shape === 'linear'
                ? `+${fmtNum(c.rate)}/bucket²`
                : '–',
            c.probability.toFixed(4),
          ]),
        )
      : 'No change with posterior probability above the threshold.',
  );
  p.push('', '## Top hosts', '');
  p.push(
    r.hosts.length
      ? mdTable(
          HOST_COLUMNS,
          r.hosts.map((h) => [h.host, ...hostCells(h)]),
        )
      : 'None.',
  );
  p.push('', '## Pools', '');
  p.push(
    r.pools.length
      ? mdTable(
          ['endpoint', 'pool', 'hosts', 'flows', 'first seen'],
          r.pools.map((x) => [x.endpoint, x.name, fmtNum(x.hosts), fmtNum(x.flows), x.firstSeen]),
        )
      : 'None.',
  );
  p.push('', '## Wallets', '');
  p.push(
    r.wallets.length
      ? mdTable(
          ['wallet', 'coin', 'hosts', 'workers', 'evidence', 'sanctions'],
          r.wallets.map((w) => [
            `\`${w.wallet}\``,
            w.coin,
            w.hosts.join(', '),
            w.workers.join(', '),
            w.evidence,
            w.screening ?? 'not screened',
          ]),
        )
      : 'None seen.',
  );
  p.push('', '## Estimates', '');
  if (r.estimates.length) {
    p.push(
      mdTable(
        ['subject', 'coin', 'hash rate', 'revenue (coin)', 'revenue (USD)', 'power', 'electricity', 'period'],
        r.estimates.map((e) => [
          e.subject,
          e.coin,
          e.shareTimeHashrate
            ? `${fmtHashrate(e.hashrate)} (flow counters); ${fmtHashrate(e.shareTimeHashrate)} (share times)`
            : fmtHashrate(e.hashrate),
          e.revenueNote && !e.revenueCoin ? e.revenueNote : fmtRange(e.revenueCoin, e.coin),
          e.revenueNote && !e.revenueUsd
            ? 'not estimated (see revenue in coin)'
            : fmtRange(e.revenueUsd, 'USD'),
          fmtRange(e.powerWatts, 'W'),
          fmtRange(e.electricityUsd, 'USD'),
          e.period ? `${e.period.from} – ${e.period.to} (${e.period.days} d)` : '–',
        ]),
      ),
      '',
      '### Assumptions',
      '',
    );
    const seen = new Set<string>();
    const rows: string[][] = [];
    for (const e of r.estimates)
      for (const a of e.assumptions) {
        const k = `${a.name}|${a.value}|${a.source}`;
        if (!seen.has(k)) {
          seen.add(k);
          rows.push([a.name, a.value, a.source]);
        }
      }
    p.push(mdTable(['assumption', 'value', 'source'], rows));
  } else p.push('None.');
  p.push('', '## Evidence', '');
  p.push(
    mdTable(
      ['claim', 'supported by'],
      r.evidence.map((c) => [
        c.claim,
        c.support.map((s) => `${s.kind}: \`${s.ref}\`${s.detail ? ` (${s.detail})` : ''}`).join('; '),
      ]),
    ),
  );
  if (r.notes.length) {
    p.push('', '## Notes on method', '');
    for (const n of r.notes) p.push(`- ${n}`);
  }
  return p.join('\n') + '\n';
}
