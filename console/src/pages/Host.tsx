/**
 * One host: its crypto activity profile, flows per day, every detection with its evidence (rule,
 * detail, payload excerpt, list version) and the artifacts its flows named.
 */
import { ErrorNote } from '../error-note';
import { useEffect, useState } from 'preact/hooks';
import { call, day, when, type HostDetection, type HostPage, type HostSession } from '../api';
import { TimeChart } from '../chart';
import { DataTable, type Column } from '../table';

const sessionColumns: Column<HostSession>[] = [
  {
    key: 'peer',
    title: 'remote end',
    value: (s) => s.peer,
    cell: (s) => <a href={`#/host/${encodeURIComponent(s.peer)}`}>{s.peer}</a>,
  },
  { key: 'port', title: 'port', value: (s) => s.port, numeric: true },
  { key: 'first', title: 'from (UTC)', value: (s) => when(s.firstMs) },
  { key: 'last', title: 'to (UTC)', value: (s) => when(s.lastMs) },
  { key: 'flows', title: 'flows', value: (s) => s.flows, numeric: true },
  { key: 'bytes', title: 'bytes (est.)', value: (s) => Math.round(s.bytesEst), numeric: true },
  { key: 'labels', title: 'labels', value: (s) => s.labels.join(' ') },
];

function Artifacts({ title, items, screen }: { title: string; items: string[]; screen?: boolean }) {
  return (
    <div>
      <h3>{title}</h3>
      {items.length === 0 ? (
        <p class="note">none</p>
      ) : (
        <ul>
          {items.map((v) => (
            <li>
              <code>{v}</code>
              {screen && (
                <>
                  {' '}
                  <a href={`#/screen?addresses=${encodeURIComponent(v)}`}>screen</a>{' '}
                  <a href={`#/money/${encodeURIComponent(v)}`}>trace</a>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * Detections that say the same thing (label, grade, rule, detail, endpoint, list version) as one
 * entry with their count and period: a miner's NetFlow records repeat one pool-endpoint match
 * hundreds of times. Detections with a payload sample each stay their own entry.
 */
interface DetectionGroup {
  first: HostDetection;
  count: number;
  lastFirst: string;
}

function groupDetections(ds: HostDetection[]): DetectionGroup[] {
  const groups = new Map<string, DetectionGroup>();
  for (const d of ds) {
    const key =
      d.payload?.fwd || d.payload?.rev
        ? `flow ${d.flow} ${d.label}`
        : [d.label, d.confidence, d.evidence.rule, d.evidence.detail, d.dst, d.dport, d.listVersion].join(
            '|',
          );
    const g = groups.get(key);
    if (!g) groups.set(key, { first: d, count: 1, lastFirst: d.first });
    else {
      g.count++;
      if (d.first < g.first.first) g.first = d;
      if (d.first > g.lastFirst) g.lastFirst = d.first;
    }
  }
  return [...groups.values()];
}

export function Host({ ip }: { ip: string }) {
  const [page, setPage] = useState<HostPage | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    setPage(null);
    setError('');
    call<HostPage>('GET', `/v1/hosts/${encodeURIComponent(ip)}`).then(setPage, (e: Error) =>
      setError(e.message),
    );
  }, [ip]);
  const p = page?.profile;
  return (
    <main>
      <h1>Host {ip}</h1>
      <ErrorNote error={error} />
      {!page && !error && <p aria-live="polite">Loading…</p>}
      {p && (
        <dl class="profile">
          <dt>country, AS</dt>
          <dd>
            {p.country || '??'}, AS{p.asn}
          </dd>
          <dt>crypto activity</dt>
          <dd>
            {when(p.firstMs)} – {when(p.lastMs)} UTC; {p.flows} flows in {p.sessions} sessions, duty cycle{' '}
            {p.dutyCycle.toFixed(3)}
          </dd>
          <dt>strong evidence</dt>
          <dd>{p.firstStrongMs === null ? 'none (ports only)' : `from ${when(p.firstStrongMs)} UTC`}</dd>
          <dt>ports, peers</dt>
          <dd>
            {p.ports.join(', ')}; {p.peers} peers
          </dd>
          <dt>labels</dt>
          <dd>{p.labels.join(', ') || 'none'}</dd>
          <dt>coins</dt>
          <dd>{p.coins.join(', ') || 'none'}</dd>
        </dl>
      )}
      {page && page.activity.points.length > 0 && (
        <section aria-labelledby="act">
          <h2 id="act">Flows per day</h2>
          <TimeChart
            title={`flows per day of ${ip}`}
            series={[{ label: `flows of ${ip}`, points: page.activity.points }]}
            bucketMs={page.activity.bucketMs}
            height={200}
          />
        </section>
      )}
      {page && (
        <section aria-labelledby="sess" class="sessions-box">
          <h2 id="sess">Sessions</h2>
          <p class="note">
            Flows to one remote end and port, merged while each starts within 10 minutes of the last one's end
            (as <code>coinradar hosts</code> counts sessions).
          </p>
          <DataTable
            caption="Sessions"
            rows={page.sessions}
            columns={sessionColumns}
            csvName={`sessions-${ip}`}
          />
        </section>
      )}
      {page && (
        <section aria-labelledby="arts" class="artifacts">
          <h2 id="arts">Artifacts</h2>
          <Artifacts title="Pools" items={page.artifacts.pools} />
          <Artifacts title="Wallets" items={page.artifacts.wallets} screen />
          <Artifacts title="Workers" items={page.artifacts.workers} />
          <Artifacts title="Agents" items={page.artifacts.agents} />
        </section>
      )}
      {page && (
        <section aria-labelledby="dets">
          <h2 id="dets">
            Detections ({page.detections.length}
            {page.detections.length === 500 ? ', the first 500' : ''})
          </h2>
          {page.detections.length === 0 && <p class="note">No detection on this host's flows.</p>}
          <ol class="detections">
            {groupDetections(page.detections).map(({ first: d, count, lastFirst }) => (
              <li class="detection">
                <h3>
                  {d.label} / {d.confidence} {d.coin && `(${d.coin})`}
                  {count > 1 && ` — ${count} flows`}
                </h3>
                <p>
                  {d.first.slice(0, 19).replace('T', ' ')}
                  {count > 1 && ` – ${lastFirst.slice(0, 19).replace('T', ' ')}`} {d.src}:{d.sport} → {d.dst}:
                  {d.dport} ({count > 1 ? 'first ' : ''}flow {d.flow}, {d.source})
                </p>
                <dl>
                  <dt>rule</dt>
                  <dd>
                    <code>{d.evidence.rule}</code>
                  </dd>
                  <dt>detail</dt>
                  <dd>{d.evidence.detail}</dd>
                  <dt>list version</dt>
                  <dd>{d.listVersion || '—'}</dd>
                  {d.artifacts.length > 0 && (
                    <>
                      <dt>artifacts</dt>
                      <dd>{d.artifacts.map((a) => `${a.kind}=${a.value}`).join(' ')}</dd>
                    </>
                  )}
                </dl>
                {d.payload?.fwd && (
                  <details>
                    <summary>payload, client → server ({d.payload.fwd.bytes} bytes sampled)</summary>
                    <pre class="payload">{d.payload.fwd.text}</pre>
                  </details>
                )}
                {d.payload?.rev && (
                  <details>
                    <summary>payload, server → client ({d.payload.rev.bytes} bytes sampled)</summary>
                    <pre class="payload">{d.payload.rev.text}</pre>
                  </details>
                )}
              </li>
            ))}
          </ol>
        </section>
      )}
      {p && <p class="note">First seen {day(p.firstMs)}.</p>}
    </main>
  );
}
