/**
 * Ethereum P2P (devp2p): the RLPx handshake on TCP and node discovery on UDP. Everything after the
 * handshake is encrypted, so the handshake and the discovery packets are what payload can show:
 *
 * - RLPx auth / auth-ack: an ECIES message whose first field is the sender's ephemeral public key,
 *   an uncompressed secp256k1 point (0x04 || x || y). EIP-8 puts a 2-byte size before it; the
 *   classic handshake is a fixed 307-byte auth and 210-byte ack. The point must lie on the curve:
 *   64 random bytes do so with probability about 2^-256, so this is a strong check.
 * - discv4: hash(32) || signature(65) || type(1) || RLP list; the hash is keccak-256 of everything
 *   after it, checked here.
 * - discv5: the header is AES-128-CTR masked with the first 16 bytes of the *recipient's* node id,
 *   which the packet does not carry. It is unmasked (and then its protocol id `discv5` checked)
 *   only for recipients whose node id the caller knows; otherwise it cannot be told from noise.
 */
import { createDecipheriv } from 'node:crypto';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { unpackPayloadTimes } from '../flow/payload-times.js';
import { scanWindow, type Detection, type FlowView, type PayloadMatcher } from './types.js';

/** secp256k1 field prime. */
const P = 2n ** 256n - 2n ** 32n - 977n;

function bigAt(b: Buffer, off: number): bigint {
  return BigInt(`0x${b.toString('hex', off, off + 32)}`);
}

/** Whether the 64 bytes at `off` are the x, y of a point on secp256k1 (y² = x³ + 7 mod p). */
export function onSecp256k1(b: Buffer, off: number): boolean {
  if (off + 64 > b.length) return false;
  const x = bigAt(b, off);
  const y = bigAt(b, off + 32);
  if (x >= P || y >= P) return false;
  return (y * y) % P === (((x * x) % P) * x + 7n) % P;
}

/**
 * EIP-8 sizes after the prefix: the smallest ack body (102 bytes of RLP) plus ECIES' 113 bytes is
 * 215; clients pad with 100–300 random bytes, so real messages are 300–700 bytes. The bound above
 * is generous; the curve check carries the weight.
 */
const EIP8_MIN = 200;
const EIP8_MAX = 2048;
/** Pre-EIP-8 sizes: ECIES over the fixed 194-byte auth body and 97-byte ack body. */
const CLASSIC_AUTH = 307;
const CLASSIC_ACK = 210;

export interface RlpxMessage {
  format: 'eip8' | 'classic';
  /** Bytes of the handshake message (with the EIP-8 prefix). */
  size: number;
}

/** Offsets where the segments of a sample begin (from its segment times), or null. */
function boundaries(times: Buffer | null | undefined): number[] | null {
  const t = unpackPayloadTimes(times);
  return t.length ? t.map((e) => e[0]) : null;
}

/**
 * Whether a message of `end` bytes at the start of the sample fits what follows: the sample ends
 * there or was cut inside it, a segment starts there, or whole RLPx frames (16-byte blocks) follow.
 */
function fits(b: Buffer, end: number, starts: number[] | null): boolean {
  if (end >= b.length) return true;
  if (starts?.includes(end)) return true;
  return (b.length - end) % 16 === 0;
}

/** The RLPx handshake message at the start of a direction's sample, or null. */
export function rlpxHandshake(buf: Buffer | null, times?: Buffer | null): RlpxMessage | null {
  const b = scanWindow(buf);
  if (!b || b.length < 67) return null;
  if (b[2] === 0x04) {
    const size = b.readUInt16BE(0);
    if (size >= EIP8_MIN && size <= EIP8_MAX && onSecp256k1(b, 3) && fits(b, size + 2, boundaries(times)))
      return { format: 'eip8', size: size + 2 };
  }
  if (b[0] === 0x04 && onSecp256k1(b, 1)) {
    const starts = boundaries(times);
    for (const size of [CLASSIC_AUTH, CLASSIC_ACK])
      if (b.length >= size && fits(b, size, starts)) return { format: 'classic', size };
  }
  return null;
}

/** discv4 packet types (devp2p discv4.md). */
const DISCV4_TYPES = ['', 'ping', 'pong', 'findnode', 'neighbors', 'enrrequest', 'enrresponse'];
const DISCV4_HEAD = 98;
/** The largest discovery datagram (both versions). */
const MAX_DATAGRAM = 1280;
/** Datagrams walked per direction at most. */
const MAX_DATAGRAMS = 16;

/** Total bytes of the RLP list at `off` (header included), or -1 when it is not a list. */
function rlpListLength(b: Buffer, off: number): number {
  const h = b[off];
  if (h === undefined || h < 0xc0) return -1;
  if (h <= 0xf7) return 1 + h - 0xc0;
  const n = h - 0xf7;
  if (off + 1 + n > b.length || n > 3) return -1;
  let len = 0;
  for (let k = 0; k < n; k++) len = len * 256 + b[off + 1 + k];
  return 1 + n + len;
}

/** The type of the discv4 packet in b[off, end), or 0 when it is not one (hash checked). */
export function discv4Type(b: Buffer, off: number, end: number): number {
  const len = end - off;
  if (len < DISCV4_HEAD + 1 || len > MAX_DATAGRAM) return 0;
  const recovery = b[off + 96];
  const type = b[off + 97];
  if (recovery > 1 || type < 1 || type >= DISCV4_TYPES.length) return 0;
  const list = rlpListLength(b, off + DISCV4_HEAD);
  if (list < 0 || off + DISCV4_HEAD + list > end) return 0;
  const hash = keccak_256(b.subarray(off + 32, end));
  for (let k = 0; k < 32; k++) if (hash[k] !== b[off + k]) return 0;
  return type;
}

/** discv5 static header fields after unmasking (devp2p discv5-wire.md, v5.1). */
const DISCV5_ID = Buffer.from('discv5');
const DISCV5_STATIC = 23;
const DISCV5_MIN = 63;

/**
 * The flag of the discv5 packet in b[off, end) if it is one addressed to the node `nodeId` (32
 * bytes): the header unmasked with the id's first 16 bytes starts with `discv5`, version 1, a
 * flag 0–2 and an authdata size that fits the packet. -1 otherwise.
 */
export function discv5Flag(b: Buffer, off: number, end: number, nodeId: Uint8Array): number {
  if (end - off < DISCV5_MIN || end - off > MAX_DATAGRAM || nodeId.length !== 32) return -1;
  const d = createDecipheriv('aes-128-ctr', nodeId.subarray(0, 16), b.subarray(off, off + 16));
  const h = d.update(b.subarray(off + 16, off + 16 + DISCV5_STATIC));
  if (!h.subarray(0, 6).equals(DISCV5_ID) || h[6] !== 0 || h[7] !== 1 || h[8] > 2) return -1;
  const authSize = h.readUInt16BE(21);
  const want = [32, 24][h[8]];
  if ((want !== undefined && authSize !== want) || (h[8] === 2 && authSize < 34)) return -1;
  return off + 16 + DISCV5_STATIC + authSize <= end ? h[8] : -1;
}

/** Datagram ends of a UDP direction: from the segment times, else from each discv4 RLP length. */
function datagramEnd(b: Buffer, off: number, starts: number[] | null): number {
  if (starts) {
    // Offsets are not trusted (stored data): the first past `off`, never past the sample.
    for (const s of starts) if (s > off) return Math.min(s, b.length);
    return b.length;
  }
  const list = rlpListLength(b, off + DISCV4_HEAD);
  return list < 0 ? b.length : Math.min(b.length, off + DISCV4_HEAD + list);
}

interface DiscoveryCount {
  v4: number;
  v5: number;
  types: string[];
}

const NONE: DiscoveryCount = { v4: 0, v5: 0, types: [] };

/** Whether a direction could hold discovery packets: a discv4 head, or discv5 ids to try. */
function maybeDiscovery(b: Buffer | null, nodeIds: readonly Uint8Array[]): boolean {
  if (!b || b.length < DISCV5_MIN) return false;
  return (
    nodeIds.length > 0 || (b.length > DISCV4_HEAD && b[96] <= 1 && b[97] >= 1 && b[97] <= 6 && b[98] >= 0xc0)
  );
}

function discoveryPackets(
  buf: Buffer | null,
  times: Buffer | null | undefined,
  nodeIds: readonly Uint8Array[],
): DiscoveryCount {
  const out: DiscoveryCount = { v4: 0, v5: 0, types: [] };
  const b = scanWindow(buf);
  if (!b) return out;
  const starts = boundaries(times);
  let off = 0;
  for (let n = 0; n < MAX_DATAGRAMS && off < b.length; n++) {
    const end = datagramEnd(b, off, starts);
    if (end <= off) break;
    const t = discv4Type(b, off, end);
    if (t) {
      out.v4++;
      if (!out.types.includes(DISCV4_TYPES[t])) out.types.push(DISCV4_TYPES[t]);
    } else if (starts && nodeIds.some((id) => discv5Flag(b, off, end, id) >= 0)) out.v5++;
    // Without segment times a datagram that is not discv4 has no known end: stop there.
    else if (!starts) break;
    off = end;
  }
  return out;
}

/** Whether a direction could start with a handshake message (before anything costs more). */
function maybeRlpx(b: Buffer | null): boolean {
  return !!b && b.length >= 67 && (b[2] === 0x04 || b[0] === 0x04);
}

function rlpxDetection(flow: FlowView): Detection | null {
  // Segment times are read (a batch cuts them out of its column) only for likely directions.
  const fwd = maybeRlpx(flow.payloadFwd) ? rlpxHandshake(flow.payloadFwd, flow.payloadTimesFwd) : null;
  const rev = maybeRlpx(flow.payloadRev) ? rlpxHandshake(flow.payloadRev, flow.payloadTimesRev) : null;
  if (!fwd && !rev) return null;
  const format = (fwd ?? rev)!.format;
  // The connecting side (the source) sends the auth, the other answers with the ack.
  const parts: string[] = [];
  if (fwd) parts.push(`auth of ${fwd.size} bytes from the source`);
  if (rev) parts.push(`ack of ${rev.size} bytes from the destination`);
  return {
    label: 'ethereum-p2p',
    coin: 'ETH',
    confidence: 'payload',
    evidence: {
      rule: 'ethereum.rlpx',
      detail: `RLPx handshake (${format === 'eip8' ? 'EIP-8' : 'pre-EIP-8'}): ${parts.join(', ')}, opening with a secp256k1 public key`,
      format,
      ...(fwd ? { authSize: fwd.size } : {}),
      ...(rev ? { ackSize: rev.size } : {}),
      coinFrom: 'protocol',
    },
    artifacts: [],
  };
}

function discoveryDetection(flow: FlowView, nodeIds: readonly Uint8Array[]): Detection | null {
  // Cheap look before any hashing (or reading segment times): most UDP payloads fail here.
  const fwd = maybeDiscovery(flow.payloadFwd, nodeIds)
    ? discoveryPackets(flow.payloadFwd, flow.payloadTimesFwd, nodeIds)
    : NONE;
  const rev = maybeDiscovery(flow.payloadRev, nodeIds)
    ? discoveryPackets(flow.payloadRev, flow.payloadTimesRev, nodeIds)
    : NONE;
  const v4 = fwd.v4 + rev.v4;
  const v5 = fwd.v5 + rev.v5;
  if (v4 + v5 === 0) return null;
  const types = [...fwd.types, ...rev.types.filter((t) => !fwd.types.includes(t))];
  return {
    label: 'ethereum-p2p',
    coin: 'ETH',
    confidence: 'payload',
    evidence: {
      rule: v4 ? 'ethereum.discv4' : 'ethereum.discv5',
      detail: v4
        ? `discv4 packets whose keccak-256 hash checks: ${types.join(', ')}`
        : 'discv5 packets whose masked header opens with the recipient node id',
      discv4: { fwd: fwd.v4, rev: rev.v4 },
      ...(v5 ? { discv5: { fwd: fwd.v5, rev: rev.v5 } } : {}),
      types,
      coinFrom: 'protocol',
    },
    artifacts: [],
  };
}

/**
 * A matcher for both transports. `nodeIds` are discv5 recipients whose ids are known (node
 * lists); without them discv5 is not recognised.
 */
export function makeEthereumMatcher(nodeIds: readonly Uint8Array[] = []): PayloadMatcher {
  return {
    name: 'ethereum',
    labels: ['ethereum-p2p'],
    match(flow: FlowView): Detection[] {
      const d =
        flow.proto === 6 ? rlpxDetection(flow) : flow.proto === 17 ? discoveryDetection(flow, nodeIds) : null;
      return d ? [d] : [];
    },
  };
}

export const ethereumP2p = makeEthereumMatcher();
