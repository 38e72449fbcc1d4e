/**
 * Bitcoin-family P2P: every message starts with a 24-byte header — network magic (4), command
 * (12, ASCII padded with NUL), payload length (4, LE), checksum (4). The magic names the network;
 * a `version` message carries protocol version, services, user agent and start height.
 */
import { createHash } from 'node:crypto';
import {
  addArtifact,
  scanWindow,
  type Artifact,
  type Detection,
  type FlowView,
  type PayloadMatcher,
} from './types.js';

export interface BitcoinNetwork {
  name: string;
  coin: string;
}

/** Magic as a big-endian uint32 of the first four bytes on the wire. */
export const BITCOIN_MAGICS = new Map<number, BitcoinNetwork>([
  [0xf9beb4d9, { name: 'bitcoin-mainnet', coin: 'BTC' }],
  [0x0b110907, { name: 'bitcoin-testnet3', coin: 'BTC' }],
  [0x1c163f28, { name: 'bitcoin-testnet4', coin: 'BTC' }],
  [0x0a03cf40, { name: 'bitcoin-signet', coin: 'BTC' }],
  // Bitcoin Core and Litecoin Core share the regtest magic; the user agent tells them apart.
  [0xfabfb5da, { name: 'regtest', coin: 'BTC|LTC' }],
  [0xfbc0b6db, { name: 'litecoin-mainnet', coin: 'LTC' }],
  [0xfdd2c8f1, { name: 'litecoin-testnet', coin: 'LTC' }],
  [0xc0c0c0c0, { name: 'dogecoin-mainnet', coin: 'DOGE' }],
  [0xfcc1b7dc, { name: 'dogecoin-testnet', coin: 'DOGE' }],
  [0xe3e1f3e8, { name: 'bitcoincash-mainnet', coin: 'BCH' }],
  [0xf4e5f3f4, { name: 'bitcoincash-testnet', coin: 'BCH' }],
  [0xdab5bffa, { name: 'bitcoincash-regtest', coin: 'BCH' }],
]);

/** Commands of the Bitcoin P2P protocol (and the forks' additions) that count as recognised. */
export const BITCOIN_COMMANDS = new Set([
  'version',
  'verack',
  'addr',
  'addrv2',
  'sendaddrv2',
  'inv',
  'getdata',
  'notfound',
  'getblocks',
  'getheaders',
  'tx',
  'block',
  'headers',
  'getaddr',
  'mempool',
  'ping',
  'pong',
  'reject',
  'filterload',
  'filteradd',
  'filterclear',
  'merkleblock',
  'sendheaders',
  'feefilter',
  'sendcmpct',
  'cmpctblock',
  'getblocktxn',
  'blocktxn',
  'wtxidrelay',
  'getcfilters',
  'cfilter',
  'getcfheaders',
  'cfheaders',
  'getcfcheckpt',
  'cfcheckpt',
  'alert',
  'mwebheader',
  'mwebleafset',
  'xthinblock',
  'xblocktx',
  'get_xblocktx',
]);

/** Largest payload Bitcoin Core accepts (MAX_SIZE, 32 MiB); anything longer is not a real header. */
const MAX_MESSAGE = 0x02000000;

export interface BitcoinHeader {
  network: BitcoinNetwork;
  command: string;
  length: number;
  /** 24, or 20 for a version/verack of the pre-0.3 protocol, which carried no checksum. */
  size: number;
}

const EMPTY_CHECKSUM = 0x5df6e0e2;

function checksum(b: Buffer, from: number, to: number): number {
  const h = createHash('sha256')
    .update(createHash('sha256').update(b.subarray(from, to)).digest())
    .digest();
  return h.readUInt32BE(0);
}

/** Parse the 24-byte message header at `off`, or null when the bytes are not one. */
export function parseBitcoinHeader(b: Buffer, off = 0): BitcoinHeader | null {
  if (b.length - off < 24) return null;
  const network = BITCOIN_MAGICS.get(b.readUInt32BE(off));
  if (!network) return null;
  let end = off + 4;
  while (end < off + 16 && b[end] >= 0x61 && b[end] <= 0x7a) end++; // lowercase ASCII, then NUL padding
  if (end === off + 4) return null;
  for (let k = end; k < off + 16; k++) if (b[k] !== 0) return null;
  const command = b.toString('latin1', off + 4, end);
  const length = b.readUInt32LE(off + 16);
  if (length > MAX_MESSAGE) return null;
  let size = 24;
  if (command === 'verack' && length === 0 && b.readUInt32BE(off + 20) !== EMPTY_CHECKSUM) size = 20;
  else if (
    command === 'version' &&
    off + 24 + length <= b.length &&
    checksum(b, off + 24, off + 24 + length) !== b.readUInt32BE(off + 20)
  ) {
    size = 20;
  }
  return { network, command, length, size };
}

export interface BitcoinVersion {
  protocolVersion: number;
  services: string;
  userAgent: string;
  startHeight: number;
}

/** Fields of a `version` payload; null when truncated. */
export function parseBitcoinVersion(p: Buffer): BitcoinVersion | null {
  // version(4) services(8) timestamp(8) addr_recv(26) addr_from(26) nonce(8) = 80, then var_str.
  if (p.length < 81) return null;
  const protocolVersion = p.readInt32LE(0);
  const services = p.readBigUInt64LE(4).toString(16);
  let off = 80;
  let n = p[off++];
  if (n === 0xfd) {
    if (p.length < off + 2) return null;
    n = p.readUInt16LE(off);
    off += 2;
  } else if (n >= 0xfe) return null; // a user agent is at most 256 bytes
  if (n > 256 || p.length < off + n + 4) return null;
  const userAgent = p.toString('latin1', off, off + n).replace(/[^\x20-\x7e]/g, '?');
  const startHeight = p.readInt32LE(off + n);
  return { protocolVersion, services: `0x${services}`, userAgent, startHeight };
}

interface DirectionResult {
  network: BitcoinNetwork;
  commands: string[];
  version: BitcoinVersion | null;
}

function walkDirection(buf: Buffer | null): DirectionResult | null {
  const b = scanWindow(buf);
  if (!b) return null;
  const first = parseBitcoinHeader(b, 0);
  if (!first || !BITCOIN_COMMANDS.has(first.command)) return null;
  const out: DirectionResult = { network: first.network, commands: [], version: null };
  let off = 0;
  for (let n = 0; n < 64 && off + 24 <= b.length; n++) {
    const h = parseBitcoinHeader(b, off);
    if (!h || h.network !== first.network) break;
    if (!out.commands.includes(h.command)) out.commands.push(h.command);
    if (h.command === 'version' && !out.version)
      out.version = parseBitcoinVersion(b.subarray(off + h.size, off + h.size + h.length));
    off += h.size + h.length;
  }
  return out;
}

function clientCoin(network: BitcoinNetwork, userAgent: string): string {
  if (network.coin !== 'BTC|LTC') return network.coin;
  if (/litecoin/i.test(userAgent)) return 'LTC';
  if (/satoshi|bitcoin/i.test(userAgent)) return 'BTC';
  return network.coin;
}

export function matchBitcoinP2p(flow: FlowView): Detection[] {
  if (flow.proto !== 6) return [];
  const fwd = walkDirection(flow.payloadFwd);
  const rev = walkDirection(flow.payloadRev);
  const r = fwd ?? rev;
  if (!r) return [];
  const artifacts: Artifact[] = [];
  const versions: Record<string, BitcoinVersion> = {};
  for (const [side, d] of [
    ['fwd', fwd],
    ['rev', rev],
  ] as const) {
    if (!d?.version) continue;
    versions[side] = d.version;
    addArtifact(artifacts, 'client', d.version.userAgent);
  }
  const ua = (fwd?.version ?? rev?.version)?.userAgent ?? '';
  const commands = [...new Set([...(fwd?.commands ?? []), ...(rev?.commands ?? [])])];
  return [
    {
      label: 'bitcoin-p2p',
      coin: clientCoin(r.network, ua),
      confidence: 'payload',
      evidence: {
        rule: 'bitcoin-p2p.header',
        detail: `${r.network.name} message header magic with command${commands.length > 1 ? 's' : ''} ${commands.join(', ')}`,
        network: r.network.name,
        commands,
        ...(Object.keys(versions).length ? { version: versions } : {}),
      },
      artifacts,
    },
  ];
}

export const bitcoinP2p: PayloadMatcher = {
  name: 'bitcoin-p2p',
  labels: ['bitcoin-p2p'],
  match: matchBitcoinP2p,
};
