/**
 * JSON-RPC over HTTP: getwork / getblocktemplate mining (cgminer, bfgminer, eth_getWork to a node)
 * and Bitcoin Core / Monero daemon RPC in clear. Looks at HTTP POST requests: the method names in
 * the body, the User-Agent, the Basic-auth user and the Host.
 */
import { bestClaim, type CoinClaim } from './coin-rule.js';
import { addressCoin, agentCoin, nameCoin, splitLogin } from './coins.js';
import { portHint } from './ports.js';
import {
  addArtifact,
  scanWindow,
  type Artifact,
  type Detection,
  type FlowView,
  type PayloadMatcher,
} from './types.js';

/** Methods that fetch or return work: mining, whoever the server is. */
const MINING_METHODS = new Map<string, string>([
  ['getblocktemplate', 'BTC'],
  ['getwork', 'BTC'],
  ['submitblock', 'BTC'],
  ['getauxblock', 'BTC'],
  ['eth_getWork', 'ETH'],
  ['eth_submitWork', 'ETH'],
  ['eth_submitHashrate', 'ETH'],
  ['get_block_template', 'XMR'],
  ['submit_block', 'XMR'],
  ['getblocktemplate_monero', 'XMR'],
]);

/** Bitcoin Core (and forks) wallet/node RPC methods: someone runs a node and talks to it in clear. */
const BITCOIN_RPC_METHODS = new Set([
  'getblockchaininfo',
  'getblockcount',
  'getbestblockhash',
  'getblockhash',
  'getblock',
  'getblockheader',
  'getrawtransaction',
  'sendrawtransaction',
  'decoderawtransaction',
  'getnetworkinfo',
  'getpeerinfo',
  'getconnectioncount',
  'getnewaddress',
  'getbalance',
  'getbalances',
  'getwalletinfo',
  'listunspent',
  'listtransactions',
  'sendtoaddress',
  'sendmany',
  'createwallet',
  'loadwallet',
  'listwallets',
  'generatetoaddress',
  'generate',
  'getrawmempool',
  'getmempoolinfo',
  'estimatesmartfee',
  'validateaddress',
  'getaddressinfo',
  'dumpprivkey',
  'importprivkey',
  'importaddress',
  'signrawtransactionwithwallet',
  'createrawtransaction',
  'fundrawtransaction',
  'gettxout',
  'getdifficulty',
  'getnetworkhashps',
  'getinfo',
  'getmininginfo',
  'walletpassphrase',
  'gettransaction',
  'listsinceblock',
  'getreceivedbyaddress',
]);

/** Monero daemon/wallet RPC methods (json_rpc endpoint). */
const MONERO_RPC_METHODS = new Set([
  'get_info',
  'get_block_count',
  'get_last_block_header',
  'get_block_header_by_height',
  'get_block',
  'get_balance',
  'get_address',
  'transfer',
  'get_transfers',
  'create_wallet',
  'open_wallet',
  'get_height',
  'on_get_block_hash',
  'sync_info',
  'get_connections',
]);

function portCoin(flow: FlowView): string {
  return portHint(6, flow.dstPort)?.coin ?? portHint(6, flow.srcPort)?.coin ?? '';
}

const METHOD_RE = /"method"\s*:\s*"([A-Za-z_.]{1,40})"/g;

interface HttpRequest {
  path: string;
  headers: Map<string, string>;
  body: string;
}

/** A POST request at the start of `b` (headers must be complete; the body may be cut). */
export function parseHttpPost(b: Buffer): HttpRequest | null {
  if (b.length < 16 || b.readUInt32BE(0) !== 0x504f5354 /* POST */ || b[4] !== 0x20) return null;
  const headEnd = b.indexOf('\r\n\r\n');
  if (headEnd < 0 || headEnd > 8192) return null;
  const head = b.toString('latin1', 0, headEnd).split('\r\n');
  const reqLine = head[0].split(' ');
  if (reqLine.length < 3 || !reqLine[2].startsWith('HTTP/')) return null;
  const headers = new Map<string, string>();
  for (const h of head.slice(1)) {
    const c = h.indexOf(':');
    if (c > 0) headers.set(h.slice(0, c).trim().toLowerCase(), h.slice(c + 1).trim());
  }
  return {
    path: reqLine[1],
    headers,
    body: b.toString('utf8', headEnd + 4, Math.min(b.length, headEnd + 4 + 16384)),
  };
}

function basicUser(auth: string | undefined): [string, string] | null {
  if (!auth || !/^basic /i.test(auth)) return null;
  const dec = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
  const c = dec.indexOf(':');
  if (c < 0) return null;
  return [dec.slice(0, c), dec.slice(c + 1)];
}

/** A login's parts as artifacts, as Stratum logins give them; the coin of its wallet, or ''. */
function loginArtifacts(out: Artifact[], login: string): string {
  const p = splitLogin(login);
  addArtifact(out, 'wallet', p.wallet);
  addArtifact(out, 'account', p.account);
  addArtifact(out, 'account', p.email);
  addArtifact(out, 'worker', p.worker);
  return p.coin;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Query keys that carry a pool login, and keys that carry only the worker name. */
const LOGIN_KEYS = new Set(['miner', 'login', 'user', 'username', 'wallet', 'address', 'addr']);
const WORKER_KEYS = new Set(['worker', 'workername', 'rig', 'rigname']);
/** A path segment `user.worker` (not a file name such as getwork.php). */
const USER_WORKER = /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_.-]{1,64}$/;
const FILE_EXT = /\.(php|html?|cgi|json|aspx?|jsp|js|txt|xml)$/i;

/**
 * `miner=30@0xWALLET@RigName` (difficulty@wallet@worker, as Ethereum getwork proxies take it):
 * the wallet is the part with an address shape, the worker the part after it.
 */
function atLogin(out: Artifact[], v: string): string {
  const parts = v.split('@');
  const k = parts.findIndex((p) => addressCoin(p) !== '');
  if (parts.length < 2 || k < 0) return loginArtifacts(out, v);
  const coin = loginArtifacts(out, parts[k]);
  if (parts[k + 1] && !/^\d+$/.test(parts[k + 1])) addArtifact(out, 'worker', parts[k + 1]);
  return coin;
}

/**
 * Logins in a getwork/getblocktemplate request's URL, as miners and proxies put them: query
 * parameters (`?miner=…`, `?login=…&worker=…`), or the path (`/0xWALLET/RIG`, `/WALLET.WORKER`,
 * `/user.worker`). Returns the coin of a wallet found, or ''.
 */
export function urlLoginArtifacts(out: Artifact[], path: string): string {
  let coin = '';
  const q = path.indexOf('?');
  const query = q < 0 ? '' : path.slice(q + 1, q + 1 + 1024);
  for (const pair of query.split('&')) {
    const e = pair.indexOf('=');
    if (e <= 0) continue;
    const key = pair.slice(0, e).toLowerCase();
    const v = decode(pair.slice(e + 1)).trim();
    if (!v) continue;
    if (LOGIN_KEYS.has(key)) coin ||= atLogin(out, v);
    else if (WORKER_KEYS.has(key)) addArtifact(out, 'worker', v);
  }
  const segs = (q < 0 ? path : path.slice(0, q)).slice(0, 1024).split('/').filter(Boolean).map(decode);
  if (segs.length >= 1 && segs.length <= 3) {
    const first = segs[0];
    const wallet = addressCoin(first.split('.')[0]) !== '';
    if (wallet || (USER_WORKER.test(first) && !FILE_EXT.test(first))) {
      coin ||= loginArtifacts(out, first);
      if (segs[1] && !out.some((a) => a.kind === 'worker')) addArtifact(out, 'worker', segs[1]);
    }
  }
  return coin;
}

/** Methods whose name alone says the coin (the rest are Bitcoin Core's, shared by its forks). */
const METHOD_NAMES_COIN = new Set(['ETH', 'XMR']);

export function matchHttpRpc(flow: FlowView): Detection[] {
  if (flow.proto !== 6) return [];
  // The request is normally forward; a capture that starts mid-connection may have it reversed.
  for (const side of [flow.payloadFwd, flow.payloadRev]) {
    const b = scanWindow(side);
    if (!b) continue;
    const req = parseHttpPost(b);
    if (!req) continue;
    const methods: string[] = [];
    for (const m of req.body.matchAll(METHOD_RE))
      if (!methods.includes(m[1]) && methods.length < 16) methods.push(m[1]);
    const mining = methods.filter((m) => MINING_METHODS.has(m));
    const nodeRpc = methods.filter((m) => BITCOIN_RPC_METHODS.has(m) || MONERO_RPC_METHODS.has(m));
    if (mining.length === 0 && nodeRpc.length === 0) continue;
    const artifacts: Artifact[] = [];
    const ua = req.headers.get('user-agent') ?? '';
    const host = req.headers.get('host') ?? '';
    const user = basicUser(req.headers.get('authorization'));
    const xMining = req.headers.get('x-mining-extensions');
    // Strongest first (coin-rule.ts).
    const claims: CoinClaim[] = [];
    if (mining.length) {
      addArtifact(artifacts, 'agent', ua);
      // The Basic-auth user is the pool login (user.worker, or a wallet); the password is a
      // credential, never recorded.
      const wallets = [
        user ? loginArtifacts(artifacts, user[0]) : '',
        urlLoginArtifacts(artifacts, req.path),
      ];
      addArtifact(artifacts, 'pool', host);
      for (const w of wallets) if (w) claims.push({ from: 'wallet', coin: w });
      const methodCoin = MINING_METHODS.get(mining[0])!;
      if (METHOD_NAMES_COIN.has(methodCoin)) claims.push({ from: 'method', coin: methodCoin });
      claims.push({ from: 'pool', coin: nameCoin(host.replace(/:\d+$/, '')) });
      claims.push({ from: 'agent', coin: agentCoin(ua) });
    } else {
      addArtifact(artifacts, 'client', ua);
      if (nodeRpc.some((m) => MONERO_RPC_METHODS.has(m))) claims.push({ from: 'method', coin: 'XMR' });
    }
    // Bitcoin Core's RPC is shared by its forks: only a well-known RPC port may name the coin then.
    claims.push({ from: 'port', coin: portCoin(flow) });
    const named = claims.filter((c) => c.coin);
    const best = bestClaim(named);
    const label = mining.length ? 'getblocktemplate' : 'node-rpc';
    return [
      {
        label,
        coin: best?.coin ?? '',
        confidence: 'payload',
        evidence: {
          rule: mining.length ? 'http.mining-rpc' : 'http.node-rpc',
          detail: `HTTP POST ${req.path} with JSON-RPC ${(mining.length ? mining : nodeRpc).join(', ')}`,
          methods,
          path: req.path,
          ...(xMining ? { miningExtensions: xMining } : {}),
          ...(best ? { coinFrom: best.from } : {}),
          ...(named.length > 1 ? { coinClaims: named } : {}),
        },
        artifacts,
      },
    ];
  }
  return [];
}

export const httpRpc: PayloadMatcher = {
  name: 'http-rpc',
  labels: ['getblocktemplate', 'node-rpc'],
  match: matchHttpRpc,
};
