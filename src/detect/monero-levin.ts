/**
 * Monero P2P: the Levin protocol (epee). Every packet starts with a 33-byte header — signature
 * 0x0101010101012101 (LE), body length (u64), have-to-return flag, command (u32), return code,
 * flags, protocol version. The handshake body names the network (network_id).
 */
import { scanWindow, type Detection, type FlowView, type PayloadMatcher } from './types.js';

/** The signature as it appears on the wire (little-endian 0x0101010101012101). */
const SIGNATURE_LO = 0x01012101;
const SIGNATURE_HI = 0x01010101;
/** monerod refuses bodies above 100 MB (LEVIN_DEFAULT_MAX_PACKET_SIZE); longer is not Levin. */
const MAX_BODY = 100_000_000;

export const LEVIN_COMMANDS = new Map<number, string>([
  [1001, 'handshake'],
  [1002, 'timed_sync'],
  [1003, 'ping'],
  [1004, 'stat_info'],
  [1005, 'network_state'],
  [1006, 'peer_id'],
  [1007, 'support_flags'],
  [2001, 'new_block'],
  [2002, 'new_transactions'],
  [2003, 'request_get_objects'],
  [2004, 'response_get_objects'],
  [2006, 'request_chain'],
  [2007, 'response_chain_entry'],
  [2008, 'new_fluffy_block'],
  [2009, 'request_fluffy_missing_tx'],
  [2010, 'get_txpool_complement'],
]);

/** network_id values of monerod's networks (cryptonote_config.h). */
const NETWORK_IDS = new Map<string, string>([
  ['1230f171610441611731008216a1a110', 'monero-mainnet'],
  ['1230f171610441611731008216a1a111', 'monero-testnet'],
  ['1230f171610441611731008216a1a112', 'monero-stagenet'],
]);

export interface LevinHeader {
  length: number;
  expectResponse: boolean;
  command: number;
  returnCode: number;
  flags: number;
  version: number;
}

export function parseLevinHeader(b: Buffer, off = 0): LevinHeader | null {
  if (b.length - off < 33) return null;
  if (b.readUInt32LE(off) !== SIGNATURE_LO || b.readUInt32LE(off + 4) !== SIGNATURE_HI) return null;
  const hi = b.readUInt32LE(off + 12);
  const length = b.readUInt32LE(off + 8);
  if (hi !== 0 || length > MAX_BODY) return null;
  return {
    length,
    expectResponse: b[off + 16] !== 0,
    command: b.readUInt32LE(off + 17),
    returnCode: b.readInt32LE(off + 21),
    flags: b.readUInt32LE(off + 25),
    version: b.readUInt32LE(off + 29),
  };
}

const NETWORK_ID_KEY = Buffer.from('\x0anetwork_id', 'latin1');

/** The handshake's network_id (a 16-byte string in epee portable storage), as hex. */
function findNetworkId(b: Buffer): string {
  const k = b.indexOf(NETWORK_ID_KEY);
  // key, then type 0x0a (string), varint length 16 (0x40 = 16 << 2), then the 16 bytes
  if (k < 0 || b.length < k + NETWORK_ID_KEY.length + 18) return '';
  const p = k + NETWORK_ID_KEY.length;
  if (b[p] !== 0x0a || b[p + 1] !== 0x40) return '';
  return b.toString('hex', p + 2, p + 18);
}

interface LevinDirection {
  commands: string[];
  networkId: string;
  version: number;
}

function walk(buf: Buffer | null): LevinDirection | null {
  const b = scanWindow(buf);
  if (!b) return null;
  const first = parseLevinHeader(b, 0);
  if (!first) return null;
  const out: LevinDirection = { commands: [], networkId: findNetworkId(b), version: first.version };
  let off = 0;
  for (let n = 0; n < 64; n++) {
    const h = parseLevinHeader(b, off);
    if (!h) break;
    const name = LEVIN_COMMANDS.get(h.command) ?? String(h.command);
    if (!out.commands.includes(name)) out.commands.push(name);
    off += 33 + h.length;
    if (off >= b.length) break;
  }
  return out;
}

export function matchMoneroLevin(flow: FlowView): Detection[] {
  if (flow.proto !== 6) return [];
  const fwd = walk(flow.payloadFwd);
  const rev = walk(flow.payloadRev);
  const r = fwd ?? rev;
  if (!r) return [];
  const commands = [...new Set([...(fwd?.commands ?? []), ...(rev?.commands ?? [])])];
  const networkId = fwd?.networkId || rev?.networkId || '';
  const network = NETWORK_IDS.get(networkId) ?? (networkId ? 'unknown-levin-network' : '');
  return [
    {
      label: 'monero-p2p',
      // Other CryptoNote coins reuse Levin with their own network_id; only Monero's are named XMR.
      coin: !networkId || NETWORK_IDS.has(networkId) ? 'XMR' : '',
      confidence: 'payload',
      evidence: {
        rule: 'monero-p2p.levin',
        detail: `Levin header signature with command${commands.length > 1 ? 's' : ''} ${commands.join(', ')}${network ? ` (${network})` : ''}`,
        commands,
        protocolVersion: r.version,
        ...(networkId ? { networkId, network } : {}),
      },
      artifacts: [],
    },
  ];
}

export const moneroLevin: PayloadMatcher = {
  name: 'monero-levin',
  labels: ['monero-p2p'],
  match: matchMoneroLevin,
};
