/** A hash router: #/page/rest?query. Links are plain <a href="#/..."> (keyboard and new tabs work). */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  page: string;
  rest: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const path = q < 0 ? h : h.slice(0, q);
  const [page, ...rest] = path.split('/');
  return {
    page: page || 'overview',
    rest: decodeURIComponent(rest.join('/')),
    params: new URLSearchParams(q < 0 ? '' : h.slice(q + 1)),
  };
}

export function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const f = () => setHash(location.hash);
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return parseHash(hash);
}

export function go(hash: string): void {
  location.hash = hash;
}
