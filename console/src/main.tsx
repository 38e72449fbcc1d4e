/**
 * The coinradar console: sign-in, then overview, hosts, a host's page, screening, money and search,
 * each a hash route (#/overview, #/hosts, #/host/IP, #/screen, #/money/ADDRESS-or-TXID). Everything comes from the server's /v1
 * API with the session cookie; nothing is loaded from anywhere else.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, whenSignedOut, type SearchResult } from './api';
import { go, useRoute } from './router';
import { Host } from './pages/Host';
import { Hosts } from './pages/Hosts';
import { Money } from './pages/Money';
import { Overview } from './pages/Overview';
import { Screen } from './pages/Screen';
import { SignIn } from './pages/SignIn';
import './style.css';

function Search() {
  const [q, setQ] = useState('');
  const [results, setResults] = useState<SearchResult[] | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!q.trim()) return;
    const r = await call<{ results: SearchResult[] }>('GET', `/v1/search?q=${encodeURIComponent(q.trim())}`);
    // A chain address or a txid also has a money page (its cluster, trace and sanctions hits).
    r.results = r.results.flatMap((x) =>
      x.kind === 'address' || x.kind === 'txid'
        ? [
            ...(x.link ? [x] : []),
            {
              ...x,
              label: `${x.value} on the chain: cluster, trace, exposure`,
              link: `#/money/${encodeURIComponent(x.value)}`,
            },
          ]
        : [x],
    );
    const links = r.results.filter((x) => x.link);
    // One answer with a page: go there; otherwise list what it may be.
    if (links.length === 1 && r.results.length === 1) {
      setResults(null);
      go(links[0].link!);
    } else setResults(r.results);
  };
  return (
    <div class="search">
      <form role="search" onSubmit={submit}>
        <label for="q" class="visually-hidden">
          Search
        </label>
        <input
          id="q"
          type="search"
          placeholder="IP, CIDR, address, txid, pool"
          value={q}
          onInput={(e) => setQ((e.target as HTMLInputElement).value)}
        />
        <button type="submit">Search</button>
      </form>
      {results && (
        <div class="results" role="region" aria-label="search results">
          {results.length === 0 && <p>Nothing known by that name.</p>}
          <ul>
            {results.map((r) => (
              <li>
                {r.link ? (
                  <a href={r.link} onClick={() => setResults(null)}>
                    {r.label}
                  </a>
                ) : (
                  r.label
                )}
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => setResults(null)}>
            Close
          </button>
        </div>
      )}
    </div>
  );
}

function App() {
  const route = useRoute();
  const [user, setUser] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    whenSignedOut(() => setUser(null));
    call<{ signedIn: boolean; name?: string }>('GET', '/v1/session').then(
      (r) => setUser(r.signedIn ? (r.name ?? '') : null),
      () => setUser(null),
    );
  }, []);
  if (user === undefined) return <p aria-live="polite">Loading…</p>;
  if (user === null) return <SignIn onSignedIn={setUser} />;
  const signOut = async () => {
    await call('DELETE', '/v1/session').catch(() => undefined);
    setUser(null);
  };
  let page;
  switch (route.page) {
    case 'hosts':
      page = <Hosts route={route} />;
      break;
    case 'host':
      page = <Host ip={route.rest} />;
      break;
    case 'screen':
      page = <Screen route={route} />;
      break;
    case 'money':
      page = <Money route={route} />;
      break;
    default:
      page = <Overview route={route} />;
  }
  const nav = (hash: string, name: string, current: boolean) => (
    <a href={hash} aria-current={current ? 'page' : undefined}>
      {name}
    </a>
  );
  return (
    <>
      <header>
        <span class="brand">coinradar</span>
        <nav aria-label="main">
          {nav('#/overview', 'Overview', route.page === 'overview')}
          {nav('#/hosts', 'Hosts', route.page === 'hosts' || route.page === 'host')}
          {nav('#/screen', 'Screening', route.page === 'screen')}
          {nav('#/money', 'Money', route.page === 'money')}
        </nav>
        <Search />
        <span class="user">
          {user}{' '}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </span>
      </header>
      {page}
    </>
  );
}

render(<App />, document.getElementById('app')!);
