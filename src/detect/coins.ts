/**
 * Which coin a mining login or a pool name points to. Address shapes only (prefix, alphabet,
 * length): enough to name the coin of a wallet seen in a Stratum login; chain/ validates
 * checksums when an address is followed further.
 */

const B58 = '[1-9A-HJ-NP-Za-km-z]';

/** Address shapes, most specific first. */
const ADDRESS_SHAPES: [RegExp, string][] = [
  [/^0x[0-9a-fA-F]{40}$/, 'ETH'],
  [new RegExp(`^[48]${B58}{94}$`), 'XMR'],
  [new RegExp(`^4${B58}{105}$`), 'XMR'], // integrated address
  [new RegExp(`^t[13]${B58}{33}$`), 'ZEC'],
  [/^zs1[02-9ac-hj-np-z]{75}$/, 'ZEC'],
  [/^(bc1|tb1|bcrt1)[02-9ac-hj-np-z]{8,87}$/, 'BTC'],
  [/^(ltc1|tltc1|rltc1)[02-9ac-hj-np-z]{8,87}$/, 'LTC'],
  [/^(bitcoincash:)?[qp][02-9ac-hj-np-z]{41}$/, 'BCH'],
  [new RegExp(`^[13]${B58}{25,33}$`), 'BTC'],
  [new RegExp(`^[LM]${B58}{26,33}$`), 'LTC'],
  [new RegExp(`^D${B58}{33}$`), 'DOGE'],
  [new RegExp(`^X${B58}{33}$`), 'DASH'],
];

/** The coin whose address shape `s` has, or '' when it looks like no address. */
export function addressCoin(s: string): string {
  if (s.length < 26 || s.length > 120) return '';
  for (const [re, coin] of ADDRESS_SHAPES) if (re.test(s)) return coin;
  return '';
}

/** Words in pool host names and agents that name a coin (eu1-zcash.flypool.org, xmr-eu1.nanopool.org). */
const NAME_HINTS: [RegExp, string][] = [
  [/(^|[^a-z])(zec|zcash)([^a-z]|$)/, 'ZEC'],
  [/(^|[^a-z])(xmr|monero)([^a-z]|$)/, 'XMR'],
  [/(^|[^a-z])(etc)([^a-z]|$)/, 'ETC'],
  [/(^|[^a-z])(eth|ethereum|ethash)([^a-z]|$)/, 'ETH'],
  [/(^|[^a-z])(ltc|litecoin)([^a-z]|$)/, 'LTC'],
  [/(^|[^a-z])(bch|bcash)([^a-z]|$)/, 'BCH'],
  [/(^|[^a-z])(doge|dogecoin)([^a-z]|$)/, 'DOGE'],
  [/(^|[^a-z])(btc|bitcoin)([^a-z]|$)/, 'BTC'],
];

export function nameCoin(name: string): string {
  const n = name.toLowerCase();
  for (const [re, coin] of NAME_HINTS) if (re.test(n)) return coin;
  return '';
}

/** Mining software that only mines one proof-of-work family, by agent prefix. */
const AGENT_HINTS: [RegExp, string][] = [
  [/^(cgminer|bfgminer|bmminer|cpuminer|sgminer-sha)/i, 'BTC'],
  [/^(xmrig|xmr-stak|xmr\/|xmrstak|monero)/i, 'XMR'],
  [/^(ewbf|equihashminer|nheqminer|dstm|zminer)/i, 'ZEC'],
  [/^(ethminer|claymore|phoenixminer|ethereumstratum)/i, 'ETH'],
];

export function agentCoin(agent: string): string {
  for (const [re, coin] of AGENT_HINTS) if (re.test(agent)) return coin;
  return '';
}

/**
 * A Stratum login split into its parts. Pools accept `ADDRESS`, `ADDRESS.WORKER`,
 * `ADDRESS.PAYMENTID.WORKER` (Monero), `ADDRESS/WORKER/EMAIL` (nanopool), `ACCOUNT.WORKER`.
 */
export interface LoginParts {
  wallet: string;
  coin: string;
  account: string;
  worker: string;
  email: string;
}

export function splitLogin(login: string): LoginParts {
  const out: LoginParts = { wallet: '', coin: '', account: '', worker: '', email: '' };
  const s = login.trim();
  if (!s) return out;
  const parts = s.split(/[/+]/);
  let head = parts[0];
  for (const p of parts.slice(1)) {
    if (p.includes('@')) out.email = p;
    else if (!out.worker && p) out.worker = p;
  }
  // ADDRESS.WORKER / ADDRESS.PAYMENTID.WORKER / ACCOUNT.WORKER
  const dot = head.split('.');
  head = dot[0];
  const rest = dot.slice(1).filter((p) => !/^[0-9a-fA-F]{16,64}$/.test(p)); // payment ids are not workers
  if (rest.length && !out.worker) out.worker = rest.join('.');
  const coin = addressCoin(head);
  if (coin) {
    out.wallet = head;
    out.coin = coin;
  } else if (head.includes('@')) out.email = head;
  else out.account = head;
  return out;
}
