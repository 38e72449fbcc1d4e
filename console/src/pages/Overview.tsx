/**
 * Overview of a scope over a date range: flows per day for each kind (all, crypto ports,
 * catalogued pools, each detection label) with every surge drawn and listed, and the breakdown by
 * country and AS, and flows by country on a world map. Re-fetched 2.5 s after each answer while the page is
 * shown, so a collecting store is live.
 */
import { ErrorNote } from '../error-note';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { call, query, scopeItems, type CollectorHealth, type SeriesAnswer, type SummaryRow } from '../api';
import { COLORS, TimeChart, surgeText } from '../chart';
import { DataTable, type Column } from '../table';
import { go, type Route } from '../router';
import { WorldMap } from '../world-map';

/** Countries and ASes asked for: every country the map can colour, and the ASes' table scrolls. */
const BREAKDOWN_TOP = '300';

// 2.5 s after the last answer: with the collector's commit (about a second) new flows show within 5 s.
export const REFRESH_MS = 2500;

/** A country's name from its ISO code, by the browser's own data (no table shipped); '??' unknown. */
const REGIONS = new Intl.DisplayNames(['en'], { type: 'region' });
export function countryName(code: string): string {
  if (!/^[A-Z]{2}$/.test(code)) return 'unknown';
  try {
    return REGIONS.of(code) ?? code;
  } catch {
    return code;
  }
}

const summaryColumns = (name: string): Column<SummaryRow>[] => [
  { key: 'key', title: name, value: (r) => r.key },
  // The store gives a country's code as its label too: the name is the browser's.
  { key: 'label', title: 'name', value: (r) => (name === 'country' ? countryName(r.key) : r.label) },
  { key: 'flows', title: 'flows', value: (r) => r.flows, numeric: true },
  { key: 'bytes', title: 'bytes', value: (r) => r.bytes, numeric: true },
];

export function Overview({ route }: { route: Route }) {
  const scope = route.params.get('scope') ?? '';
  const since = route.params.get('since') ?? '';
  const until = route.params.get('until') ?? '';
  const [form, setForm] = useState({ scope, since, until });
  useEffect(() => setForm({ scope, since, until }), [scope, since, until]);
  const [data, setData] = useState<SeriesAnswer | null>(null);
  const [summary, setSummary] = useState<Record<string, SummaryRow[]> | null>(null);
  const [error, setError] = useState('');
  const [updated, setUpdated] = useState('');
  const [collector, setCollector] = useState<CollectorHealth | null>(null);

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const q = { scope: scopeItems(scope), since, until };
        const [s, m, c] = await Promise.all([
          call<SeriesAnswer>('GET', `/v1/series${query(q)}`),
          call<{ tables: Record<string, SummaryRow[]> }>(
            'GET',
            `/v1/summary${query({ scope: q.scope, by: ['country', 'asn'], top: BREAKDOWN_TOP })}`,
          ),
          // {collecting: false} unless the server collects (serve --collect).
          call<CollectorHealth>('GET', '/v1/collector').catch(() => null),
        ]);
        if (!live) return;
        setCollector(c);
        setData(s);
        setSummary(m.tables);
        setError('');
        setUpdated(new Date().toISOString().slice(11, 19));
      } catch (e) {
        if (live) setError((e as Error).message);
      }
      if (live) timer = setTimeout(load, REFRESH_MS);
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [scope, since, until]);

  const changes = useMemo(
    () =>
      (data?.series ?? []).flatMap((s, i) =>
        s.changes.filter((c) => c.kind === 'increase').map((change) => ({ series: i, change })),
      ),
    [data],
  );

  const submit = (e: Event) => {
    e.preventDefault();
    go(`#/overview${query(form)}`);
  };

  return (
    <main>
      <h1>Overview{scope ? `: ${scope}` : ': all flows'}</h1>
      <form class="scope" onSubmit={submit}>
        <label>
          Scope{' '}
          <input
            name="scope"
            placeholder="country:KP asn:131279 watch:kp cidr:175.45.176.0/22"
            value={form.scope}
            onInput={(e) => setForm({ ...form, scope: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          From{' '}
          <input
            type="date"
            name="since"
            value={form.since}
            onInput={(e) => setForm({ ...form, since: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          To{' '}
          <input
            type="date"
            name="until"
            value={form.until}
            onInput={(e) => setForm({ ...form, until: (e.target as HTMLInputElement).value })}
          />
        </label>
        <button type="submit">Show</button>
      </form>
      <ErrorNote error={error} />
      <CollectorNote health={collector} />
      {data && (
        <section aria-labelledby="activity">
          <h2 id="activity">
            Activity per {data.bucket}{' '}
            <span class="note">(all flows on the right axis; updated {updated} UTC, live)</span>
          </h2>
          <TimeChart
            title={`flows per ${data.bucket}, ${data.series.map((s) => s.label).join(', ')}`}
            series={data.series}
            firstOnRight
            changes={changes}
            bucketMs={data.bucketMs}
          />
          <ul class="surges" aria-label="surges">
            {data.series.map((s, i) => (
              <li>
                <span class="swatch" style={{ background: COLORS[i % COLORS.length] }} />{' '}
                <strong>{s.label}</strong> ({s.total} flows):{' '}
                {s.changes.length === 0 ? (
                  'no surge'
                ) : (
                  <ul>
                    {s.changes.map((c) => (
                      <li class="onset" data-series={s.label} data-onset={c.onset.slice(0, 10)}>
                        {surgeText(c, data.bucketMs)}
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      {summary && (
        <section class="breakdown" aria-label="breakdown">
          <WorldMap rows={summary.country ?? []} />
          <DataTable caption="By country" rows={summary.country ?? []} columns={summaryColumns('country')} />
          <DataTable caption="By AS" rows={summary.asn ?? []} columns={summaryColumns('AS')} />
        </section>
      )}
      <p class="links">
        <a href={`#/hosts${query({ scope })}`}>Hosts of this scope</a>{' '}
        <a href={`/v1/report${query({ scope: scopeItems(scope), since, until })}`} download="report.html">
          Report (HTML)
        </a>{' '}
        <a
          href={`/v1/report${query({ scope: scopeItems(scope), since, until, format: 'pdf' })}`}
          download="report.pdf"
        >
          Report (PDF)
        </a>
      </p>
    </main>
  );
}

/**
 * What the live collector's health means for the figures shown: nothing while it is well; an
 * alert while its store fails (collecting goes on: the interval it broke off and what arrives are
 * held in memory up to a bound) or once it stopped; a note of what was lost and held earlier.
 */
function CollectorNote({ health }: { health: CollectorHealth | null }) {
  if (!health?.collecting) return null;
  const lost = health.counts?.['flows.lost-store'] ?? 0;
  const held = health.counts?.['flows.held-store'] ?? 0;
  // With --spool what is held is on disk too (its gauge is there only then).
  const where =
    health.counts?.['spool.bytes'] !== undefined ? 'in memory and in the spool on disk' : 'in memory';
  if (health.status === 'failed')
    return (
      <p class="error" role="alert" data-collector="failed">
        Collecting stopped: {health.error}. The figures are what was committed before.
      </p>
    );
  if (health.status === 'degraded')
    return (
      <p class="error" role="alert" data-collector="degraded">
        The collector's store is failing ({health.error}). Collecting goes on: {held.toLocaleString('en-US')}{' '}
        flows held {where}, to be stored once it writes again; what does not fit is lost and counted:{' '}
        {lost.toLocaleString('en-US')} flows so far.
      </p>
    );
  const heldStored = health.counts?.['flows.held-stored'] ?? 0;
  if (lost > 0 || heldStored > 0)
    return (
      <p class="note" data-collector="ok">
        {lost.toLocaleString('en-US')} flows were lost while the collector's store was failing
        (flows.lost-store); {heldStored.toLocaleString('en-US')} were held {where} meanwhile and stored.
      </p>
    );
  return null;
}
