import { test } from 'node:test';
import assert from 'node:assert/strict';
import { revenue } from '../../src/analysis/estimate.js';
import type { SurgeChange } from '../../src/analysis/surge.js';
import { portOnsetLag } from '../../src/report/build.js';
import type { InvestigationReport, Timeline } from '../../src/report/model.js';
import { renderHtml, renderMarkdown } from '../../src/report/render.js';
import { barsSvg, timelineSvg, timeTicks } from '../../src/report/svg.js';

const DAY = 86400000;

function change(onset: string, lo: string, hi: string): SurgeChange {
  return {
    label: 'x',
    kind: 'increase',
    onset: `${onset}T00:00:00.000Z`,
    onsetMs: Date.parse(onset),
    onsetInterval: [`${lo}T00:00:00.000Z`, `${hi}T00:00:00.000Z`],
    before: 10,
    after: 500,
    shape: 'step',
    rate: 0,
    rampBuckets: 0,
    probability: 1,
    changePoints: [`${onset}T00:00:00.000Z`],
  };
}

function timeline(label: string, evidence: 'port' | 'stronger', changes: SurgeChange[]): Timeline {
  const t0 = Date.UTC(2017, 3, 1);
  return {
    label,
    evidence,
    unit: 'flows per day',
    bucketMs: DAY,
    points: Array.from({ length: 90 }, (_, i) => ({
      t: t0 + i * DAY,
      value: i < 50 ? 10 : 500,
      observed: i !== 30,
    })),
    changes,
  };
}

test('date ticks: days, weeks or months by span, 5–14 of them, the year on the first tick and where it changes', () => {
  const t0 = Date.UTC(2017, 3, 1);
  for (const [days, unit] of [
    [7, 1],
    [20, 2],
    [35, 3],
    [90, 7],
    [140, 14],
    [365, 30],
    [1000, 91],
  ] as const) {
    const ticks = timeTicks(t0, t0 + days * DAY);
    assert.ok(ticks.length >= 4 && ticks.length <= 14, `${days} days: ${ticks.length} ticks`);
    const gap = (ticks[1].t - ticks[0].t) / DAY;
    assert.ok(Math.abs(gap - unit) <= 3, `${days} days: ticks ${gap} days apart, expected ~${unit}`);
    assert.match(ticks[0].label, /2017$/, `first tick names the year: ${ticks[0].label}`);
    for (const k of ticks) assert.ok(k.t >= t0 && k.t < t0 + days * DAY);
  }
  // Weekly ticks fall on Mondays; month ticks on the 1st.
  for (const k of timeTicks(t0, t0 + 90 * DAY)) assert.equal(new Date(k.t).getUTCDay(), 1);
  for (const k of timeTicks(t0, t0 + 365 * DAY)) assert.equal(new Date(k.t).getUTCDate(), 1);
  const y = timeTicks(Date.UTC(2016, 10, 1), Date.UTC(2017, 4, 1));
  assert.ok(
    y.some((k) => k.label === 'Jan 2017'),
    y.map((k) => k.label).join(', '),
  );
});

test('timeline chart: date and value axis titles with the unit, weekly ticks over 90 days, the onset interval as a band', () => {
  const tl = timeline('crypto ports', 'port', [change('2017-05-20', '2017-05-19', '2017-05-21')]);
  const svg = timelineSvg(tl);
  assert.ok(svg.includes('>flows per day</text>'), 'y axis title with the unit');
  assert.ok(svg.includes('>date (UTC, one point per day)</text>'), 'x axis title');
  const dateLabels = svg.match(/>\d{1,2} [A-Z][a-z]{2}( \d{4})?</g) ?? [];
  assert.ok(dateLabels.length >= 10, `${dateLabels.length} date ticks`);
  assert.ok(svg.includes('95 % interval of the onset: 2017-05-19 – 2017-05-21'), 'interval band');
  assert.ok(svg.includes('onset 2017-05-20 (95 %: 05-19 – 05-21)'), 'onset label with its interval');
});

test('bars carry their unit on every value and in the title', () => {
  const svg = barsSvg(
    [
      { label: '10.0.0.1', value: 1234 },
      { label: '10.0.0.2', value: 56 },
    ],
    'flows',
    960,
    'flows per host',
  );
  assert.ok(svg.includes('>1234 flows<') && svg.includes('>56 flows<'), svg);
  assert.ok(svg.includes('>flows per host</text>'));
});

test('port-only lag: flagged when the port onset comes after stronger evidence beyond both intervals, not otherwise', () => {
  const pools = timeline('pools', 'stronger', [change('2017-05-17', '2017-05-17', '2017-05-17')]);
  const late = timeline('ports', 'port', [change('2017-05-25', '2017-05-24', '2017-05-25')]);
  const lag = portOnsetLag(late, [late, pools]);
  assert.ok(lag, 'lag flagged');
  assert.equal(lag.days, 8);
  assert.equal(lag.behind, 'pools');
  assert.match(lag.text, /^Port-only data lags/);
  const close = timeline('ports', 'port', [change('2017-05-18', '2017-05-17', '2017-05-19')]);
  assert.equal(portOnsetLag(close, [close, pools]), undefined, 'overlapping intervals explain it');
  assert.equal(portOnsetLag(pools, [late, pools]), undefined, 'only port-only series lag');
  assert.equal(portOnsetLag(late, [late]), undefined, 'nothing stronger to compare with');
});

test('report HTML: lag note, wallets table wraps inside the page, XMR revenue says why it is missing', () => {
  const pools = timeline('pools', 'stronger', [change('2017-05-17', '2017-05-17', '2017-05-17')]);
  const ports = timeline('ports', 'port', [change('2017-05-25', '2017-05-24', '2017-05-25')]);
  ports.lag = portOnsetLag(ports, [ports, pools]);
  const rev = revenue(
    'XMR',
    { low: 500, mid: 1000, high: 2000 },
    Date.UTC(2017, 4, 17),
    Date.UTC(2017, 5, 17),
  );
  assert.equal(rev.days.length, 0);
  assert.ok(rev.unavailable?.includes('network'), rev.unavailable);
  const wallet = `4${'7CYX6'.repeat(18)}sbooWz`;
  const r: InvestigationReport = {
    title: 't',
    generatedAt: '2017-07-01T00:00:00Z',
    scope: 'country:KP',
    period: { from: '2017-04-01', to: '2017-06-29' },
    findings: [],
    timelines: [ports, pools],
    hosts: [],
    pools: [],
    wallets: [{ wallet, coin: 'XMR', hosts: ['175.45.176.63'], workers: ['w8'], evidence: 'Stratum login' }],
    estimates: [
      {
        subject: '175.45.176.63 → MineXMR',
        coin: 'XMR',
        hashrate: { low: 500, mid: 1000, high: 2000 },
        revenueNote: rev.unavailable,
        // Every other cell filled, so a dash left in the row can only be a revenue cell.
        powerWatts: { low: 75, mid: 150, high: 300 },
        electricityUsd: { low: 1, mid: 5, high: 20 },
        period: { from: '2017-05-17', to: '2017-06-17', days: 31 },
        assumptions: rev.assumptions,
      },
    ],
    evidence: [],
    notes: [],
  };
  const html = renderHtml(r);
  assert.ok(html.includes('<p class="lag">Port-only data lags'), 'lag note under the chart');
  assert.ok(
    /<table class="fixed"><colgroup>.*<code>4(7CYX6)+sbooWz<\/code>/s.test(html),
    'wallets table is fixed',
  );
  assert.ok(/table\.fixed td,table\.fixed code\{overflow-wrap:anywhere;word-break:break-all\}/.test(html));
  assert.ok(/@media print\{[^}]*body\{max-width:none/.test(html), 'print CSS');
  const estimates = html.slice(html.indexOf('<h2>Estimates</h2>'), html.indexOf('<h3>Assumptions</h3>'));
  assert.ok(estimates.includes('not estimated'), 'revenue cells say it is not estimated');
  assert.ok(estimates.includes("needs the network's hash rate"), 'and the page says why');
  assert.ok(!/<td>–<\/td>/.test(estimates), 'no bare dash for revenue');
  const md = renderMarkdown(r);
  assert.ok(md.includes('> Port-only data lags'));
  assert.ok(md.includes('not estimated'));
});
