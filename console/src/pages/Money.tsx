/**
 * Money: an address (or a transaction) on the chain index `serve` holds — its cluster, the
 * sanctions hits of screening it (exact, cluster and indirect, each with its list and version),
 * its exposure to tagged sources, and a trace graph that grows one hop at a time from whatever
 * node the analyst expands. Every answer is the one the `coinradar chain` commands give.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, call, type ScreenMatch } from '../api';
import { ErrorNote } from '../error-note';
import { DataTable, type Column } from '../table';
import { coins, nodeClass, TraceGraph, type TraceEdge, type TraceNode } from '../trace-graph';
import { go, type Route } from '../router';

interface AddressAnswer {
  address: { address: string; received: number; sent: number; balance: number; [k: string]: unknown };
  listed: boolean;
  cluster: {
    id: number | null;
    size: number;
    heuristics: string[];
    coinjoinLikeSkipped: number;
    members: { address: string; listed: boolean }[];
  };
}

interface TraceAnswer {
  heuristics: string[];
  nodes: TraceNode[];
  edges: TraceEdge[];
}

interface ExposureAnswer {
  received: number;
  receipts: number;
  hops: number;
  exposure: { tag: string; value: number; share: number; minHops: number; sources: string[] }[];
}

const TXID = /^[0-9a-fA-F]{64}$/;

const memberColumns: Column<{ address: string; listed: boolean }>[] = [
  {
    key: 'address',
    title: 'address',
    value: (m) => m.address,
    cell: (m) => <a href={`#/money/${encodeURIComponent(m.address)}`}>{m.address}</a>,
  },
  { key: 'listed', title: 'listed', value: (m) => (m.listed ? 'LISTED' : '') },
];

const edgeKey = (e: TraceEdge) => `${e.from}>${e.to}`;

/** #/money with nothing named: where to name an address or a txid. */
function MoneyStart() {
  const [text, setText] = useState('');
  return (
    <main>
      <h1>Money</h1>
      <form
        class="scope"
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim()) go(`#/money/${encodeURIComponent(text.trim())}`);
        }}
      >
        <label>
          Address or txid{' '}
          <input name="seed" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit">Open</button>
      </form>
    </main>
  );
}

export function Money({ route }: { route: Route }) {
  if (!route.rest) return <MoneyStart />;
  return <MoneyOf seed={route.rest} />;
}

function MoneyOf({ seed }: { seed: string }) {
  const isTx = TXID.test(seed);
  const [addr, setAddr] = useState<AddressAnswer | null>(null);
  const [hits, setHits] = useState<ScreenMatch[] | null>(null);
  const [exp, setExp] = useState<ExposureAnswer | null>(null);
  const [nodes, setNodes] = useState<TraceNode[]>([]);
  const [edges, setEdges] = useState<TraceEdge[]>([]);
  const [heuristics, setHeuristics] = useState<string[]>([]);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [direction, setDirection] = useState<'forward' | 'backward'>('forward');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  // An expansion's hops count from the node expanded (its hop in the graph so far).
  const merge = (t: TraceAnswer, offset: number) => {
    setHeuristics(t.heuristics);
    setNodes((old) => {
      const have = new Set(old.map((n) => n.id));
      return [...old, ...t.nodes.filter((n) => !have.has(n.id)).map((n) => ({ ...n, hop: n.hop + offset }))];
    });
    setEdges((old) => {
      const have = new Set(old.map(edgeKey));
      return [
        ...old,
        ...t.edges.filter((e) => !have.has(edgeKey(e))).map((e) => ({ ...e, hop: e.hop + offset })),
      ];
    });
  };

  const expand = async (label: string, dir = direction, offset = 0) => {
    const key = `${dir} ${label}`;
    if (expanded.has(key)) return;
    setBusy(true);
    try {
      merge(
        await call<TraceAnswer>(
          'GET',
          `/v1/chain/trace?seed=${encodeURIComponent(label)}&hops=1&direction=${dir}`,
        ),
        offset,
      );
      setExpanded((s) => new Set(s).add(key));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    setAddr(null);
    setHits(null);
    setExp(null);
    setNodes([]);
    setEdges([]);
    setExpanded(new Set());
    setError('');
    const fail = (e: Error) =>
      setError(
        e instanceof ApiError && e.code === 'not_found' && e.message.startsWith('no route')
          ? 'This server has no chain index (coinradar chain ingest, then serve the store).'
          : e.message,
      );
    if (!isTx) {
      call<AddressAnswer>('GET', `/v1/chain/address/${encodeURIComponent(seed)}`).then(setAddr, fail);
      call<{ matches: ScreenMatch[] }>('GET', `/v1/screen/${encodeURIComponent(seed)}`).then(
        (r) => setHits(r.matches),
        fail,
      );
      call<ExposureAnswer>('GET', `/v1/chain/exposure/${encodeURIComponent(seed)}`).then(setExp, fail);
    }
    void expand(seed, 'forward');
  }, [seed]);

  const sorted = useMemo(() => [...edges].sort((a, b) => a.hop - b.hop || a.height - b.height), [edges]);
  const byId = useMemo(() => new Map(nodes.map((n) => [n.id, n])), [nodes]);

  return (
    <main>
      <h1>
        {isTx ? 'Transaction' : 'Address'} <code>{seed}</code>
      </h1>
      <ErrorNote error={error} />
      {addr && (
        <dl class="profile">
          <dt>received, sent, balance</dt>
          <dd>
            {coins(addr.address.received)}, {coins(addr.address.sent)}, {coins(addr.address.balance)}
          </dd>
          <dt>cluster</dt>
          <dd>
            {addr.cluster.id === null ? 'none (never spent with other addresses)' : `#${addr.cluster.id}`},{' '}
            {addr.cluster.size} addresses; heuristics {addr.cluster.heuristics.join(', ')};{' '}
            {addr.cluster.coinjoinLikeSkipped} CoinJoin-like transactions skipped
          </dd>
        </dl>
      )}
      {hits && (
        <section aria-labelledby="hits">
          <h2 id="hits">Sanctions</h2>
          {hits.length === 0 ? (
            <p>Not listed, and no listed address in its cluster or its funds' sources.</p>
          ) : (
            <ul class="hits">
              {hits.map((m) => (
                <li class="listed">
                  <strong>{m.kind}</strong>: {m.entity?.name ?? 'unnamed'} — {m.list} v{m.versionId}
                  {m.published ? ` (${m.published})` : ''}
                  {m.kind !== 'exact' ? `, via ${m.listedAddress}` : ''}
                  {m.via ? `; ${m.via}` : ''}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      {exp && (
        <section aria-labelledby="exp">
          <h2 id="exp">Exposure</h2>
          <p class="note">
            Of {coins(exp.received)} received in {exp.receipts} outputs, within {exp.hops} hops back (haircut
            taint):
          </p>
          {exp.exposure.length === 0 ? (
            <p>No tagged source (pools, listed addresses).</p>
          ) : (
            <ul class="exposure">
              {exp.exposure.map((x) => (
                <li>
                  {x.tag}: {(x.share * 100).toFixed(2)} % ({coins(x.value)}), from {x.minHops} hop
                  {x.minHops === 1 ? '' : 's'}; sources {x.sources.join(', ')}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      <section aria-labelledby="trace">
        <h2 id="trace">Trace</h2>
        <p class="note">
          Address level, haircut taint{heuristics.length ? `; clusters by ${heuristics.join(', ')}` : ''}.
          Click a node, or Expand below, to follow it one more hop.{busy ? ' Loading…' : ''}
        </p>
        <label>
          Direction{' '}
          <select
            name="direction"
            value={direction}
            onChange={(e) => {
              // The other direction starts again from the page's address or transaction.
              const d = (e.target as HTMLSelectElement).value as 'forward' | 'backward';
              setDirection(d);
              void expand(seed, d);
            }}
          >
            <option value="forward">forward (where it went)</option>
            <option value="backward">backward (where it came from)</option>
          </select>
        </label>
        {nodes.length > 0 && (
          <TraceGraph nodes={nodes} edges={edges} onExpand={(n) => void expand(n.label, direction, n.hop)} />
        )}
        <table class="trace-edges">
          <caption>Trace edges: {edges.length}</caption>
          <thead>
            <tr>
              <th scope="col">hop</th>
              <th scope="col">from</th>
              <th scope="col">to</th>
              <th scope="col" class="num">
                amount
              </th>
              <th scope="col" class="num">
                tainted
              </th>
              <th scope="col" class="num">
                height
              </th>
              <th scope="col">time</th>
            </tr>
          </thead>
          <tbody>
            {sorted.map((e) => {
              const to = byId.get(e.to);
              const from = byId.get(e.from);
              return (
                <tr>
                  <td class="num">{e.hop}</td>
                  <td>
                    <NodeCell n={from} />
                  </td>
                  <td>
                    <NodeCell n={to} />{' '}
                    {to && (
                      <button type="button" onClick={() => void expand(to.label, direction, e.hop)}>
                        Expand
                      </button>
                    )}
                  </td>
                  <td class="num">{coins(e.value)}</td>
                  <td class="num">{coins(e.tainted)}</td>
                  <td class="num">{e.height}</td>
                  <td>{e.time}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      {addr && (
        <section aria-labelledby="members">
          <h2 id="members">Cluster members</h2>
          <DataTable
            caption="Cluster"
            rows={addr.cluster.members}
            columns={memberColumns}
            csvName={`cluster-${seed}`}
          />
        </section>
      )}
    </main>
  );
}

function NodeCell({ n }: { n: TraceNode | undefined }) {
  if (!n) return null;
  return (
    <span class={`node ${nodeClass(n)}`}>
      {n.kind === 'address' ? (
        <a href={`#/money/${encodeURIComponent(n.label)}`}>{n.label}</a>
      ) : (
        <code>{n.label}</code>
      )}
      {n.tags.length > 0 && <span class="tags"> [{n.tags.join('; ')}]</span>}
    </span>
  );
}
