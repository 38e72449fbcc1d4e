/**
 * The console's search box: what a string is (an IP, a CIDR, a country, an AS, a chain address, a
 * transaction id, a pool's name) and the console page that shows it. Decided from the text's
 * form first; the store is asked only where the form alone cannot say (whether an address was
 * seen as a wallet, which hosts used it).
 */
import { parseCidr } from '../geo/watchlist.js';
import { checkAddress } from '../sanctions/address.js';
import { ipv4Text, poolCatalogue } from '../scenario/world.js';
import type { NetworkReader } from '../store/reader.js';
import { validIp } from './scope.js';

export interface SearchResult {
  kind: 'host' | 'cidr' | 'country' | 'asn' | 'address' | 'txid' | 'pool' | 'wallet';
  value: string;
  /** What the console shows for it. */
  label: string;
  /** The console page (hash route), or null where this slice has none. */
  link: string | null;
}

/** Coins whose address forms are told apart by checkAddress (first valid one names the coin). */
const COINS = ['BTC', 'LTC', 'BCH', 'DOGE', 'XMR', 'ZEC', 'ETH', 'TRX', 'XRP'];
const MAX_POOLS = 20;

const overview = (scope: string) => `#/overview?scope=${encodeURIComponent(scope)}`;

export async function searchStore(reader: NetworkReader, raw: string): Promise<SearchResult[]> {
  const q = raw.trim();
  const out: SearchResult[] = [];
  if (!q) return out;
  if (/^[0-9a-f.:]+$/i.test(q) && validIp(q)) {
    out.push({ kind: 'host', value: q, label: `host ${q}`, link: `#/host/${encodeURIComponent(q)}` });
    return out;
  }
  if (q.includes('/') && /^[0-9a-f.:/]+$/i.test(q)) {
    try {
      parseCidr(q);
      out.push({ kind: 'cidr', value: q, label: `address block ${q}`, link: overview(`cidr:${q}`) });
    } catch {
      // not a CIDR after all
    }
    return out;
  }
  if (/^[A-Za-z]{2}$/.test(q))
    out.push({
      kind: 'country',
      value: q.toUpperCase(),
      label: `country ${q.toUpperCase()}`,
      link: overview(`country:${q.toUpperCase()}`),
    });
  const as = /^AS?([0-9]{1,10})$/i.exec(q) ?? (/^[0-9]{1,10}$/.test(q) ? [q, q] : null);
  if (as) out.push({ kind: 'asn', value: `AS${as[1]}`, label: `AS${as[1]}`, link: overview(`asn:${as[1]}`) });
  if (/^[0-9a-f]{64}$/i.test(q))
    out.push({
      kind: 'txid',
      value: q.toLowerCase(),
      label: 'transaction id (coinradar chain tx shows it; no console page yet)',
      link: null,
    });
  for (const coin of COINS) {
    const c = checkAddress(coin, q);
    if (c.valid && c.checked) {
      out.push({
        kind: 'address',
        value: c.address,
        label: `${coin} address: screen it`,
        link: `#/screen?addresses=${encodeURIComponent(c.address)}`,
      });
      break;
    }
  }
  if (out.some((r) => r.kind === 'address') || q.length >= 20) await addWalletHosts(reader, q, out);
  if (q.length >= 3) {
    const needle = q.toLowerCase();
    const seen = new Set<string>();
    for (const p of poolCatalogue()) {
      if (seen.size >= MAX_POOLS) break;
      if (!p.pool.toLowerCase().includes(needle) && !p.server.toLowerCase().includes(needle)) continue;
      const endpoint = `${ipv4Text(p.ip)}:${p.port}`;
      if (seen.has(endpoint)) continue;
      seen.add(endpoint);
      out.push({
        kind: 'pool',
        value: endpoint,
        label: `${p.pool} (${p.server}, ${p.coin}) at ${endpoint}: hosts that used it`,
        link: `#/hosts?filter=${encodeURIComponent(p.server)}`,
      });
    }
  }
  return out;
}

/** Hosts whose detections named `q` as a wallet (or any artifact), each a link to its page. */
async function addWalletHosts(reader: NetworkReader, q: string, out: SearchResult[]): Promise<void> {
  const rows = await reader.artifactHosts(q, 50);
  for (const r of rows)
    out.push({
      kind: 'wallet',
      value: r.host,
      label: `${r.kind} seen in flows of ${r.host}`,
      link: `#/host/${encodeURIComponent(r.host)}`,
    });
}
