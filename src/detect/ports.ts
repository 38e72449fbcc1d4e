/**
 * Well-known crypto ports. A port alone proves nothing (3333 and 8888 carry plenty else), so a hit
 * gives `port` confidence, label `crypto-port`, and is only reported when nothing stronger fired.
 */
import { isScanAttempt, scanDetection, type FlowCounters } from './scan.js';
import type { Detection, FlowView } from './types.js';

export interface PortHint {
  port: number;
  proto: 6 | 17;
  service: string;
  coin: string;
}

const TCP = 6 as const;
const STRATUM_PORT = 'stratum (common pool port)';

export const PORT_HINTS: PortHint[] = [
  { port: 8333, proto: TCP, service: 'bitcoin-p2p', coin: 'BTC' },
  { port: 18333, proto: TCP, service: 'bitcoin-p2p (testnet3)', coin: 'BTC' },
  { port: 48333, proto: TCP, service: 'bitcoin-p2p (testnet4)', coin: 'BTC' },
  { port: 38333, proto: TCP, service: 'bitcoin-p2p (signet)', coin: 'BTC' },
  { port: 8332, proto: TCP, service: 'bitcoin-rpc', coin: 'BTC' },
  { port: 18332, proto: TCP, service: 'bitcoin-rpc (testnet)', coin: 'BTC' },
  { port: 9333, proto: TCP, service: 'litecoin-p2p', coin: 'LTC' },
  { port: 19335, proto: TCP, service: 'litecoin-p2p (testnet)', coin: 'LTC' },
  { port: 9332, proto: TCP, service: 'litecoin-rpc', coin: 'LTC' },
  { port: 22556, proto: TCP, service: 'dogecoin-p2p', coin: 'DOGE' },
  { port: 22555, proto: TCP, service: 'dogecoin-rpc', coin: 'DOGE' },
  { port: 18080, proto: TCP, service: 'monero-p2p', coin: 'XMR' },
  { port: 18081, proto: TCP, service: 'monero-rpc', coin: 'XMR' },
  { port: 18089, proto: TCP, service: 'monero-rpc (restricted)', coin: 'XMR' },
  { port: 28080, proto: TCP, service: 'monero-p2p (testnet)', coin: 'XMR' },
  { port: 38080, proto: TCP, service: 'monero-p2p (stagenet)', coin: 'XMR' },
  { port: 30303, proto: TCP, service: 'ethereum-p2p', coin: 'ETH' },
  { port: 30303, proto: 17, service: 'ethereum-discovery', coin: 'ETH' },
  { port: 8545, proto: TCP, service: 'ethereum-rpc', coin: 'ETH' },
  { port: 8233, proto: TCP, service: 'zcash-p2p', coin: 'ZEC' },
  { port: 9999, proto: TCP, service: 'dash-p2p / stratum', coin: '' },
  ...[
    3333, 4444, 5555, 6666, 7777, 8888, 14444, 14433, 45700, 3334, 3335, 3336, 3357, 13333, 20580, 20535,
    20536, 20537,
  ].map((port) => ({ port, proto: TCP, service: STRATUM_PORT, coin: '' })),
];

const byKey = new Map<number, PortHint>();
for (const h of PORT_HINTS) if (!byKey.has(h.proto * 65536 + h.port)) byKey.set(h.proto * 65536 + h.port, h);

export function portHint(proto: number, port: number): PortHint | undefined {
  return byKey.get(proto * 65536 + port);
}

/**
 * The port hint of a flow, looking at both ports. The end whose port is listed is the server: the
 * destination as usual, the source in a record of the server's replies (one-way NetFlow) or when a
 * peer answers from its service port to a random one (discovery on UDP 30303). Both listed: two
 * peers on service ports. A listed source port facing a destination below 1024 is not taken: that
 * is a client whose ephemeral port happens to be listed, calling a system service (443, 53).
 */
export function matchPort(proto: number, srcPort: number, dstPort: number): Detection | null {
  const d = portHint(proto, dstPort);
  const s = dstPort < 1024 ? undefined : portHint(proto, srcPort);
  const h = d ?? s;
  if (!h) return null;
  const server = d && s ? 'both' : d ? 'destination' : 'source';
  const detail =
    server === 'both'
      ? `both ports (${srcPort}, ${dstPort}) are well-known ${h.service} ports: peers on service ports`
      : server === 'destination'
        ? `destination port ${h.port} is a well-known ${h.service} port: the destination is the server, the source its client`
        : `source port ${h.port} is a well-known ${h.service} port: the source is the server, the destination its client`;
  return {
    label: 'crypto-port',
    coin: h.coin,
    confidence: 'port',
    evidence: { rule: 'port.well-known', detail, port: h.port, service: h.service, server },
    artifacts: [],
  };
}

/** HTTP request methods and the status line, as the first bytes of a direction. */
const HTTP_START = /^(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH|CONNECT) [!-~]|^HTTP\/1\.[01] \d/;

function startsHttp(b: Buffer | null): boolean {
  return !!b && b.length >= 8 && HTTP_START.test(b.toString('latin1', 0, 16));
}

/** Stratum is JSON lines in clear or inside TLS: what a direction on a pool port can start with. */
function stratumLike(b: Buffer | null): boolean {
  if (!b || b.length === 0) return true;
  let k = 0;
  while (k < b.length && k < 64 && (b[k] === 0x20 || b[k] === 0x0a || b[k] === 0x0d || b[k] === 0x09)) k++;
  return b[k] === 0x7b /* { */ || (b[k] === 0x16 && b[k + 1] === 0x03); /* TLS handshake */
}

/**
 * What a flow gets when no payload or infrastructure rule fired: the port hint; a `scan` instead
 * when the flow was an attempt without data; nothing when its payload is HTTP (a web server on
 * 8888 is not a pool: getwork over HTTP was already tried by its own rule), nor when a common pool
 * port carried bytes that are neither JSON nor TLS (a stager on 4444 is not Stratum). P2P ports keep
 * their hint whatever the bytes: Bitcoin's v2 transport (BIP324) is encrypted.
 */
export function portFallback(flow: FlowView, c: FlowCounters): Detection | null {
  const hint = matchPort(flow.proto, flow.srcPort, flow.dstPort);
  if (!hint) return null;
  if (isScanAttempt(flow, c)) return scanDetection(hint, c);
  if (flow.proto !== 6 || (!flow.payloadFwd?.length && !flow.payloadRev?.length)) return hint;
  if (startsHttp(flow.payloadFwd) || startsHttp(flow.payloadRev)) return null;
  if (
    hint.evidence.service === STRATUM_PORT &&
    !(stratumLike(flow.payloadFwd) && stratumLike(flow.payloadRev))
  )
    return null;
  return hint;
}
