/**
 * Link, IP and transport decoding of one packet into a reused `DecodedPacket` (numbers and
 * offsets only: no object, no string, no copy). Link types: Ethernet (802.1Q/802.1ad/QinQ,
 * PPPoE, MPLS), Linux cooked v1/v2, raw IPv4/IPv6, BSD null and OpenBSD loop.
 *
 * IP fragments are counted, not reassembled: every fragment of a datagram (first one included)
 * is accounted without ports, as softflowd does, because later fragments carry no transport
 * header and splitting one datagram across two flows would be worse.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Outcome of decoding, for the caller's counters. */
export enum Decoded {
  Ok = 0,
  NotIp = 1,
  /** Captured bytes end inside a header we need. */
  Truncated = 2,
  UnsupportedLink = 3,
  /** Header fields that cannot be right (IPv4 IHL < 5, version mismatch). */
  Malformed = 4,
}

/**
 * -0 is not a small integer to V8, so a field that starts as -0 holds doubles from the start.
 * Address words and sequence numbers reach 2^30 and beyond (not small integers either): a field
 * that started as 0 would change representation at its first large value, and each change
 * throws away the optimised code of every function that reads the object (decodePacket and the
 * flow table's hot methods). Measured over nDPI's captures x16: 49 deoptimisations with these
 * fields starting at 0, 28 with -0 (docs/benchmarks-pcap.md).
 */
const DOUBLE_FIELD = -0;

export class DecodedPacket {
  ipVersion = 4;
  /** Addresses as 32-bit words (IPv4: word 0 only, others 0). */
  s0 = DOUBLE_FIELD;
  s1 = DOUBLE_FIELD;
  s2 = DOUBLE_FIELD;
  s3 = DOUBLE_FIELD;
  d0 = DOUBLE_FIELD;
  d1 = DOUBLE_FIELD;
  d2 = DOUBLE_FIELD;
  d3 = DOUBLE_FIELD;
  proto = 0;
  srcPort = 0;
  dstPort = 0;
  /** IP-layer length as NetFlow counts it: IPv4 total length, IPv6 40 + payload length. */
  ipBytes = 0;
  tcpFlags = 0;
  tcpSeq = DOUBLE_FIELD;
  /** Transport payload within the captured bytes (length 0 when none or not TCP/UDP). */
  payloadOffset = 0;
  payloadLength = 0;
  /** 4 for an IPv4 fragment, 6 for an IPv6 fragment, 0 otherwise. */
  fragment = 0;
  /** Offsets of the source/destination address bytes in the packet buffer (4 or 16 bytes). */
  srcOffset = 0;
  dstOffset = 0;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/**
 * Decode `buf[off, off + caplen)` of the given link type. `origLen` is used when an IP length
 * field is zero (TSO/jumbo captures).
 */
export function decodePacket(
  buf: Buffer,
  off: number,
  caplen: number,
  origLen: number,
  linkType: number,
  out: DecodedPacket,
): Decoded {
  const end = off + caplen;
  let p = off;
  let ethType: number;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      if (caplen < 14) return Decoded.Truncated;
      ethType = (buf[p + 12] << 8) | buf[p + 13];
      p += 14;
      break;
    case LINKTYPE_LINUX_SLL:
      if (caplen < 16) return Decoded.Truncated;
      ethType = (buf[p + 14] << 8) | buf[p + 15];
      p += 16;
      break;
    case LINKTYPE_LINUX_SLL2:
      if (caplen < 20) return Decoded.Truncated;
      ethType = (buf[p] << 8) | buf[p + 1];
      p += 20;
      break;
    case LINKTYPE_RAW:
    case 12: // DLT_RAW as written by some BSDs
    case 14: // OpenBSD DLT_RAW
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      ethType = -1;
      break;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      // A 4-byte address family (host order for null, network order for loop); the values for
      // IPv6 differ between BSDs, so the IP version nibble decides.
      if (caplen < 4) return Decoded.Truncated;
      p += 4;
      ethType = -1;
      break;
    default:
      return Decoded.UnsupportedLink;
  }
  // VLAN tags (802.1Q, 802.1ad, old QinQ 0x9100), stacked any number of times.
  while (ethType === 0x8100 || ethType === 0x88a8 || ethType === 0x9100) {
    if (end - p < 4) return Decoded.Truncated;
    ethType = (buf[p + 2] << 8) | buf[p + 3];
    p += 4;
  }
  if (ethType === 0x8864) {
    // PPPoE session: 6-byte header, then the PPP protocol.
    if (end - p < 8) return Decoded.Truncated;
    const ppp = (buf[p + 6] << 8) | buf[p + 7];
    ethType = ppp === 0x0021 ? ETH_IPV4 : ppp === 0x0057 ? ETH_IPV6 : 0;
    p += 8;
  } else if (ethType === 0x8847 || ethType === 0x8848) {
    // MPLS: labels until bottom-of-stack, then the IP version nibble.
    while (true) {
      if (end - p < 4) return Decoded.Truncated;
      const bos = buf[p + 2] & 1;
      p += 4;
      if (bos) break;
    }
    ethType = -1;
  }
  if (ethType === -1) {
    if (end - p < 1) return Decoded.Truncated;
    const v = buf[p] >> 4;
    ethType = v === 4 ? ETH_IPV4 : v === 6 ? ETH_IPV6 : 0;
  }
  let l4: number;
  let l4end: number;
  out.fragment = 0;
  out.srcPort = 0;
  out.dstPort = 0;
  out.tcpFlags = 0;
  out.payloadLength = 0;
  if (ethType === ETH_IPV4) {
    if (end - p < 20) return Decoded.Truncated;
    const vihl = buf[p];
    const ihl = (vihl & 15) * 4;
    if (vihl >> 4 !== 4 || ihl < 20) return Decoded.Malformed;
    let total = (buf[p + 2] << 8) | buf[p + 3];
    // 0 (TSO/LRO captures): the frame says how long the packet is. A corrupt record can claim an
    // original length below the captured one, so the larger of the two: never a negative size.
    if (total === 0) total = frameLength(caplen, origLen) - (p - off);
    const frag = (buf[p + 6] << 8) | buf[p + 7];
    out.ipVersion = 4;
    out.proto = buf[p + 9];
    out.srcOffset = p + 12;
    out.dstOffset = p + 16;
    out.s0 = rd32(buf, p + 12);
    out.d0 = rd32(buf, p + 16);
    out.s1 = out.s2 = out.s3 = out.d1 = out.d2 = out.d3 = 0;
    out.ipBytes = total;
    if (frag & 0x3fff) {
      out.fragment = 4;
      return Decoded.Ok;
    }
    l4 = p + ihl;
    l4end = p + total;
  } else if (ethType === ETH_IPV6) {
    if (end - p < 40) return Decoded.Truncated;
    if (buf[p] >> 4 !== 6) return Decoded.Malformed;
    const plen = (buf[p + 4] << 8) | buf[p + 5];
    out.ipVersion = 6;
    out.srcOffset = p + 8;
    out.dstOffset = p + 24;
    out.s0 = rd32(buf, p + 8);
    out.s1 = rd32(buf, p + 12);
    out.s2 = rd32(buf, p + 16);
    out.s3 = rd32(buf, p + 20);
    out.d0 = rd32(buf, p + 24);
    out.d1 = rd32(buf, p + 28);
    out.d2 = rd32(buf, p + 32);
    out.d3 = rd32(buf, p + 36);
    out.ipBytes = plen === 0 ? frameLength(caplen, origLen) - (p - off) : 40 + plen;
    l4end = p + out.ipBytes;
    let nh = buf[p + 6];
    l4 = p + 40;
    // Extension headers: hop-by-hop, routing, destination options, mobility, HIP, shim6,
    // experimental (all length in 8-byte units after the first 8), AH (4-byte units), fragment.
    while (true) {
      if (
        nh === 0 ||
        nh === 43 ||
        nh === 60 ||
        nh === 135 ||
        nh === 139 ||
        nh === 140 ||
        nh === 253 ||
        nh === 254
      ) {
        if (end - l4 < 2) return Decoded.Truncated;
        const next = buf[l4];
        l4 += (buf[l4 + 1] + 1) * 8;
        nh = next;
      } else if (nh === 51) {
        if (end - l4 < 2) return Decoded.Truncated;
        const next = buf[l4];
        l4 += (buf[l4 + 1] + 2) * 4;
        nh = next;
      } else if (nh === 44) {
        if (end - l4 < 8) return Decoded.Truncated;
        const next = buf[l4];
        const fo = (buf[l4 + 2] << 8) | buf[l4 + 3];
        l4 += 8;
        nh = next;
        if (fo & 0xfff9) {
          out.proto = nh;
          out.fragment = 6;
          return Decoded.Ok;
        }
      } else break;
    }
    out.proto = nh;
  } else {
    return Decoded.NotIp;
  }
  if (l4end > end) l4end = end;
  const proto = out.proto;
  if (proto === 6) {
    if (l4end - l4 < 14) return l4end - l4 < 4 ? Decoded.Truncated : tcpShort(buf, l4, out);
    out.srcPort = (buf[l4] << 8) | buf[l4 + 1];
    out.dstPort = (buf[l4 + 2] << 8) | buf[l4 + 3];
    out.tcpSeq = rd32(buf, l4 + 4);
    out.tcpFlags = buf[l4 + 13];
    const doff = (buf[l4 + 12] >> 4) * 4;
    if (doff >= 20 && l4 + doff < l4end) {
      out.payloadOffset = l4 + doff;
      out.payloadLength = l4end - l4 - doff;
    }
  } else if (proto === 17) {
    if (l4end - l4 < 4) return Decoded.Truncated;
    out.srcPort = (buf[l4] << 8) | buf[l4 + 1];
    out.dstPort = (buf[l4 + 2] << 8) | buf[l4 + 3];
    if (l4end - l4 > 8) {
      out.payloadOffset = l4 + 8;
      out.payloadLength = l4end - l4 - 8;
    }
  }
  return Decoded.Ok;
}

/** Length of the frame on the wire: the record's original length, but never below what was captured. */
function frameLength(caplen: number, origLen: number): number {
  return origLen > caplen ? origLen : caplen;
}

/** Big-endian u32 without Buffer#readUInt32BE's bounds checks (callers checked the length). */
function rd32(buf: Buffer, p: number): number {
  return ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]) >>> 0;
}

/** A TCP header cut before the flags: ports are known, flags and payload are not. */
function tcpShort(buf: Buffer, l4: number, out: DecodedPacket): Decoded {
  out.srcPort = (buf[l4] << 8) | buf[l4 + 1];
  out.dstPort = (buf[l4 + 2] << 8) | buf[l4 + 3];
  return Decoded.Ok;
}
