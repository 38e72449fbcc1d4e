/**
 * The table of `coinradar hosts` for a scope (up to the API's 10,000): sortable, filterable,
 * virtualised, each host a link to its page; CSV is the API's (`format=csv`, the same key or
 * session), so it has every column of the command, not only those drawn.
 */
import { ErrorNote } from '../error-note';
import { useEffect, useState } from 'preact/hooks';
import { call, day, query, scopeItems, type HostProfile } from '../api';
import { DataTable, type Column } from '../table';
import { go, type Route } from '../router';

const columns: Column<HostProfile>[] = [
  {
    key: 'host',
    title: 'host',
    value: (h) => h.host,
    cell: (h) => <a href={`#/host/${encodeURIComponent(h.host)}`}>{h.host}</a>,
  },
  { key: 'country', title: 'country', value: (h) => h.country },
  { key: 'asn', title: 'AS', value: (h) => h.asn, numeric: true },
  { key: 'first', title: 'first', value: (h) => day(h.firstMs) },
  { key: 'last', title: 'last', value: (h) => day(h.lastMs) },
  { key: 'flows', title: 'flows', value: (h) => h.flows, numeric: true },
  { key: 'sessions', title: 'sessions', value: (h) => h.sessions, numeric: true },
  { key: 'duty', title: 'duty cycle', value: (h) => Number(h.dutyCycle.toFixed(3)), numeric: true },
  { key: 'bytes', title: 'bytes (est.)', value: (h) => Math.round(h.bytesEst), numeric: true },
  { key: 'labels', title: 'labels', value: (h) => h.labels.join(' ') },
  { key: 'coins', title: 'coins', value: (h) => h.coins.join(' ') },
  { key: 'pools', title: 'pools', value: (h) => h.pools.join(' ') },
  { key: 'wallets', title: 'wallets', value: (h) => h.wallets.length, numeric: true },
];

export function Hosts({ route }: { route: Route }) {
  const scope = route.params.get('scope') ?? '';
  const minConfidence = route.params.get('min') ?? 'port';
  const filter = route.params.get('filter') ?? '';
  const [hosts, setHosts] = useState<HostProfile[] | null>(null);
  const [error, setError] = useState('');
  const [scopeText, setScopeText] = useState(scope);
  useEffect(() => {
    setHosts(null);
    call<{ hosts: HostProfile[] }>(
      'GET',
      `/v1/hosts${query({ scope: scopeItems(scope), minConfidence, limit: '10000' })}`,
    ).then(
      (r) => setHosts(r.hosts),
      (e: Error) => setError(e.message),
    );
  }, [scope, minConfidence]);
  const [ownFilter, setOwnFilter] = useState(filter);
  useEffect(() => setOwnFilter(filter), [filter]);
  return (
    <main>
      <h1>Hosts{scope ? `: ${scope}` : ''}</h1>
      <form
        class="scope"
        onSubmit={(e) => {
          e.preventDefault();
          go(`#/hosts${query({ scope: scopeText, min: minConfidence === 'port' ? '' : minConfidence })}`);
        }}
      >
        <label>
          Scope{' '}
          <input
            name="scope"
            value={scopeText}
            onInput={(e) => setScopeText((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Least evidence{' '}
          <select
            name="min"
            value={minConfidence}
            onChange={(e) => go(`#/hosts${query({ scope, min: (e.target as HTMLSelectElement).value })}`)}
          >
            {['port', 'behaviour', 'infrastructure', 'payload'].map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        </label>
        <button type="submit">Show</button>
      </form>
      <ErrorNote error={error} />
      {hosts === null && !error && <p aria-live="polite">Loading hosts…</p>}
      {hosts && (
        <DataTable
          caption="Hosts"
          rows={hosts}
          columns={columns}
          filter={ownFilter}
          onFilter={setOwnFilter}
          initialSort={{ key: 'flows', desc: true }}
          csvHref={`/v1/hosts${query({ scope: scopeItems(scope), minConfidence, limit: '10000', format: 'csv' })}`}
          csvName="hosts"
        />
      )}
    </main>
  );
}
