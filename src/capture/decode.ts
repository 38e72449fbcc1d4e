/**
 * Link, IP and transport decoding of one packet into a reused `DecodedPacket` (numbers and
 * offsets only: no object, no string, no copy). Link types: Ethernet (802.1Q/802.1ad/QinQ,
 * PPPoE, MPLS with IP or an Ethernet pseudowire), Linux cooked v1/v2, raw IPv4/IPv6, BSD null and
 * OpenBSD loop, PPP (also in HDLC-like framing), Cisco HDLC, PPI, 802.11.
 *
 * Tunnels are opened and the INNER packet is what the flow table sees: GRE (with checksum, key,
 * sequence; PPTP's enhanced GRE; transparent Ethernet bridging; MPLS; ERSPAN types I, II, III),
 * IP-in-IP (4in4, 4in6, 6in4, 6in6), VXLAN (UDP 4789), GTP-U (UDP 2152, with extension headers),
 * Teredo (UDP 3544, with origin and authentication indications) and CAPWAP data (UDP 5247, with
 * 802.3 or 802.11 frames). The outermost tunnel's kind, id (GRE key, VXLAN VNI, GTP TEID, ERSPAN
 * session) and outer addresses stay in the packet as its tunnel context. At most
 * `MAX_TUNNEL_DEPTH` tunnels are opened; a packet nested deeper is taken at that depth and
 * flagged (`depthExceeded`). When an opened tunnel's inner packet does not decode (cut by the
 * snaplen, not IP), the packet is taken as the outer flow and flagged (`innerUndecoded`): a tunnel
 * that cannot be read still counts where it was seen.
 *
 * An IP fragment (first one included) ends the walk: `fragment` is set with what reassembly needs
 * (id, offset, more-fragments bit, where the IP header and the fragment's data lie), and the
 * transport fields stay empty. The flow table reassembles fragments (reassembly.ts) and decodes
 * the whole datagram again with `decodeDatagram`, so a fragmented tunnel packet is opened then.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_PPP = 9;
export const LINKTYPE_PPP_HDLC = 50;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_C_HDLC = 104;
export const LINKTYPE_IEEE802_11 = 105;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_PPI = 192;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Names of link types a capture may carry, for the error that names an unsupported one. */
const LINKTYPE_NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'ETHERNET',
  6: 'IEEE802_5',
  8: 'SLIP',
  9: 'PPP',
  10: 'FDDI',
  50: 'PPP_HDLC',
  51: 'PPP_ETHER',
  101: 'RAW',
  104: 'C_HDLC',
  105: 'IEEE802_11',
  107: 'FRELAY',
  108: 'LOOP',
  113: 'LINUX_SLL',
  119: 'PRISM_HEADER',
  127: 'IEEE802_11_RADIOTAP',
  138: 'APPLE_IP_OVER_IEEE1394',
  139: 'MTP2_WITH_PHDR',
  140: 'MTP2',
  141: 'MTP3',
  142: 'SCCP',
  143: 'DOCSIS',
  163: 'IEEE802_11_AVS',
  187: 'BLUETOOTH_HCI_H4',
  189: 'USB_LINUX',
  192: 'PPI',
  195: 'IEEE802_15_4_WITHFCS',
  201: 'BLUETOOTH_HCI_H4_WITH_PHDR',
  220: 'USB_LINUX_MMAPPED',
  227: 'CAN_SOCKETCAN',
  228: 'IPV4',
  229: 'IPV6',
  249: 'NETLINK',
  252: 'WIRESHARK_UPPER_PDU',
  276: 'LINUX_SLL2',
};

/** `LINKTYPE_X (n)`, or `n` for a number no table here knows (USER0..15 are 147..162). */
export function linkTypeName(t: number): string {
  if (t >= 147 && t <= 162) return `USER${t - 147} (${t})`;
  const n = LINKTYPE_NAMES[t];
  return n ? `LINKTYPE_${n} (${t})` : `${t}`;
}

/** Tunnel kinds of the flow's tunnel context (0: none; names in src/flow/record.ts TUNNEL_KINDS). */
export const TUNNEL_NONE = 0;
export const TUNNEL_GRE = 1;
export const TUNNEL_IPIP = 2;
export const TUNNEL_VXLAN = 3;
export const TUNNEL_GTPU = 4;
export const TUNNEL_TEREDO = 5;
export const TUNNEL_CAPWAP = 6;
export const TUNNEL_ERSPAN = 7;

/** Tunnels opened at most per packet: deeper nesting is taken at this depth (and flagged). */
export const MAX_TUNNEL_DEPTH = 4;

export const VXLAN_PORT = 4789;
export const GTPU_PORT = 2152;
export const TEREDO_PORT = 3544;
export const CAPWAP_DATA_PORT = 5247;

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
  /**
   * Of a fragment only (set when `fragment` is): the IP identification (16 bits IPv4, 32 bits
   * IPv6), the fragment's offset in the datagram's data in bytes, 1 when more fragments follow,
   * where its IP header starts and how long it is (IPv4 header with options; 40 for IPv6), and
   * its data: from `fragData` to `fragEnd` as the IP length says, captured up to `fragCapEnd`.
   */
  fragId = DOUBLE_FIELD;
  fragOffset = 0;
  fragMore = 0;
  fragHeader = 0;
  fragHeaderLen = 0;
  fragData = 0;
  fragEnd = 0;
  fragCapEnd = 0;
  /** Offsets of the source/destination address bytes in the packet buffer (4 or 16 bytes). */
  srcOffset = 0;
  dstOffset = 0;
  /** Tunnels opened to reach the packet above (0: a plain packet). */
  tunnelDepth = 0;
  /** The outermost tunnel: its kind (TUNNEL_*, 0 none) and id (GRE key, VNI, TEID; -1 none). */
  tunnel = 0;
  tunnelId = DOUBLE_FIELD;
  /** The outermost tunnel's outer IP version and addresses (words as s0..d3). */
  outerVersion = 0;
  os0 = DOUBLE_FIELD;
  os1 = DOUBLE_FIELD;
  os2 = DOUBLE_FIELD;
  os3 = DOUBLE_FIELD;
  od0 = DOUBLE_FIELD;
  od1 = DOUBLE_FIELD;
  od2 = DOUBLE_FIELD;
  od3 = DOUBLE_FIELD;
  /** 1 when the packet was nested deeper than MAX_TUNNEL_DEPTH and taken at that depth. */
  depthExceeded = 0;
  /** 1 when an opened tunnel's inner packet did not decode and the outer packet was taken. */
  innerUndecoded = 0;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/*
 * Layers below IP, as what `below` is asked to read at a position: an ethertype (>= 0) when the
 * type is already known, or one of these frame kinds.
 */
const L_IP = -1; // an IP header: the version nibble decides
const L_ETH = -2;
const L_WIFI = -3;
const L_PPP = -4;
const L_HDLC = -5;
const L_SLL = -6;
const L_SLL2 = -7;
const L_NULL = -8;
const L_PPI = -9;
const L_NONE = -10;
/** `below` returns `ERR - Decoded.X` for a failure. */
const ERR = -100;
/** Layers walked below one IP header at most (VLAN tags, MPLS pseudowires...): bounds the loop. */
const MAX_LAYERS = 64;

/** Where `below` stopped; where a tunnel's inner packet starts and what it is (set by `tunnelAt`). */
let at = 0;
let innerLayer = L_NONE;
let innerId = -1;

function layerOfLink(linkType: number): number {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return L_ETH;
    case LINKTYPE_LINUX_SLL:
      return L_SLL;
    case LINKTYPE_LINUX_SLL2:
      return L_SLL2;
    case LINKTYPE_RAW:
    case 12: // DLT_RAW as written by some BSDs
    case 14: // OpenBSD DLT_RAW
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return L_IP;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP:
      return L_NULL;
    case LINKTYPE_PPP:
    case LINKTYPE_PPP_HDLC:
      return L_PPP;
    case LINKTYPE_C_HDLC:
      return L_HDLC;
    case LINKTYPE_PPI:
      return L_PPI;
    case LINKTYPE_IEEE802_11:
      return L_WIFI;
    default:
      return L_NONE;
  }
}

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
  const layer = linkType === LINKTYPE_ETHERNET ? L_ETH : layerOfLink(linkType);
  if (layer === L_NONE) return Decoded.UnsupportedLink;
  out.depthExceeded = 0;
  out.innerUndecoded = 0;
  const r = decodeFrom(buf, off, caplen, origLen, layer, out, MAX_TUNNEL_DEPTH, MAX_TUNNEL_DEPTH);
  if (r === Decoded.Ok || out.tunnelDepth === 0) return r;
  // A tunnel was opened but what it carries did not decode: take the packet one tunnel further
  // out (decoded again from the start: this path is rare, the plain one stays straight).
  out.innerUndecoded = 1;
  return decodeFrom(buf, off, caplen, origLen, layer, out, out.tunnelDepth - 1, MAX_TUNNEL_DEPTH);
}

/**
 * Decode a reassembled IP datagram at `buf[off, off + caplen)` (its IP header first; `ipLen` is
 * its whole length when fewer bytes were captured) found under `depthUsed` tunnels: at most the
 * tunnels left to `MAX_TUNNEL_DEPTH` are opened inside it. The caller restores the outer tunnel
 * context and depth of the fragments.
 */
export function decodeDatagram(
  buf: Buffer,
  off: number,
  caplen: number,
  ipLen: number,
  depthUsed: number,
  out: DecodedPacket,
): Decoded {
  out.depthExceeded = 0;
  out.innerUndecoded = 0;
  const maxDepth = MAX_TUNNEL_DEPTH - depthUsed;
  const r = decodeFrom(buf, off, caplen, ipLen, L_IP, out, maxDepth, maxDepth);
  if (r === Decoded.Ok || out.tunnelDepth === 0) return r;
  out.innerUndecoded = 1;
  return decodeFrom(buf, off, caplen, ipLen, L_IP, out, out.tunnelDepth - 1, maxDepth);
}

/** A fragment's header and data positions (its data runs to `ipEnd` as the IP length says). */
function fragmentData(
  out: DecodedPacket,
  ip: number,
  hlen: number,
  data: number,
  ipEnd: number,
  end: number,
): void {
  out.fragHeader = ip;
  out.fragHeaderLen = hlen;
  out.fragData = data;
  out.fragEnd = ipEnd;
  out.fragCapEnd = ipEnd < end ? ipEnd : end;
}

/**
 * Decode with at most `maxDepth` tunnels opened; a further tunnel is flagged (`depthExceeded`)
 * when `maxDepth` is the full depth `fullDepth` (not on the retry one tunnel further out).
 */
function decodeFrom(
  buf: Buffer,
  off: number,
  caplen: number,
  origLen: number,
  firstLayer: number,
  out: DecodedPacket,
  maxDepth: number,
  fullDepth: number,
): Decoded {
  let end = off + caplen;
  let p = off;
  let layer = firstLayer;
  let depth = 0;
  out.tunnelDepth = 0;
  out.tunnel = 0;
  for (;;) {
    let ethType: number;
    // Plain Ethernet carrying IP, the common case, without a call; everything else walks `below`.
    if (layer === L_ETH && end - p >= 14 && (buf[p + 12] === 0x08 || buf[p + 12] === 0x86)) {
      ethType = (buf[p + 12] << 8) | buf[p + 13];
      p += 14;
    } else {
      ethType = below(buf, p, end, layer);
      if (ethType <= ERR) return ERR - ethType;
      p = at;
    }
    if (ethType === L_IP) {
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
        out.fragId = (buf[p + 4] << 8) | buf[p + 5];
        out.fragOffset = (frag & 0x1fff) * 8;
        out.fragMore = (frag >> 13) & 1;
        fragmentData(out, p, ihl, p + ihl, p + total, end);
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
            out.fragId = rd32(buf, l4 - 4);
            out.fragOffset = fo & 0xfff8;
            out.fragMore = fo & 1;
            fragmentData(out, p, 40, l4, l4end, end);
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
      return Decoded.Ok;
    }
    if (proto === 17) {
      if (l4end - l4 < 4) return Decoded.Truncated;
      const sp = (buf[l4] << 8) | buf[l4 + 1];
      const dp = (buf[l4 + 2] << 8) | buf[l4 + 3];
      out.srcPort = sp;
      out.dstPort = dp;
      if (l4end - l4 > 8) {
        out.payloadOffset = l4 + 8;
        out.payloadLength = l4end - l4 - 8;
      }
      // The common case (no tunnel port) costs these comparisons and nothing else.
      if (
        out.payloadLength === 0 ||
        (dp !== VXLAN_PORT &&
          dp !== GTPU_PORT &&
          sp !== GTPU_PORT &&
          dp !== TEREDO_PORT &&
          sp !== TEREDO_PORT &&
          dp !== CAPWAP_DATA_PORT &&
          sp !== CAPWAP_DATA_PORT)
      ) {
        return Decoded.Ok;
      }
    } else if (proto !== 4 && proto !== 41 && proto !== 47) {
      return Decoded.Ok;
    }
    // A tunnel protocol or port: is it one, and where does its inner packet start?
    const kind = tunnelAt(buf, proto === 17 ? out.payloadOffset : l4, l4end, proto, out.srcPort, out.dstPort);
    if (kind === TUNNEL_NONE) return Decoded.Ok;
    if (depth >= maxDepth) {
      if (maxDepth === fullDepth) out.depthExceeded = 1;
      return Decoded.Ok;
    }
    if (depth === 0) {
      out.tunnel = kind;
      out.tunnelId = innerId;
      out.outerVersion = out.ipVersion;
      out.os0 = out.s0;
      out.os1 = out.s1;
      out.os2 = out.s2;
      out.os3 = out.s3;
      out.od0 = out.d0;
      out.od1 = out.d1;
      out.od2 = out.d2;
      out.od3 = out.d3;
    }
    depth++;
    out.tunnelDepth = depth;
    // The inner packet lies within the outer one's IP payload.
    p = at;
    end = l4end;
    layer = innerLayer;
  }
}

/**
 * Walk the layers below IP from `p`: link header, VLAN tags, PPPoE, MPLS labels, PPP, ... Returns
 * the ethertype reached (or L_IP: decide by the version nibble) with its header at `at`, or
 * `ERR - Decoded.X`.
 */
function below(buf: Buffer, p: number, end: number, t: number): number {
  for (let k = 0; k < MAX_LAYERS; k++) {
    switch (t) {
      case L_ETH:
        if (end - p < 14) return ERR - Decoded.Truncated;
        t = (buf[p + 12] << 8) | buf[p + 13];
        p += 14;
        break;
      case ETH_IPV4:
      case ETH_IPV6:
      case L_IP:
        at = p;
        return t;
      case 0x8100: // 802.1Q
      case 0x88a8: // 802.1ad
      case 0x9100: // old QinQ
        if (end - p < 4) return ERR - Decoded.Truncated;
        t = (buf[p + 2] << 8) | buf[p + 3];
        p += 4;
        break;
      case 0x8864:
        // PPPoE session: 6-byte header, then the PPP protocol.
        if (end - p < 6) return ERR - Decoded.Truncated;
        p += 6;
        t = L_PPP;
        break;
      case 0x8847:
      case 0x8848: {
        // MPLS: labels until bottom-of-stack; then IP by its version nibble, or a pseudowire's
        // control word (first nibble 0) and an Ethernet frame.
        for (;;) {
          if (end - p < 4) return ERR - Decoded.Truncated;
          const bos = buf[p + 2] & 1;
          p += 4;
          if (bos) break;
        }
        if (end - p < 1) return ERR - Decoded.Truncated;
        const v = buf[p] >> 4;
        if (v === 4 || v === 6) t = L_IP;
        else if (v === 0) {
          p += 4;
          t = L_ETH;
        } else return ERR - Decoded.NotIp;
        break;
      }
      case L_SLL:
        if (end - p < 16) return ERR - Decoded.Truncated;
        t = (buf[p + 14] << 8) | buf[p + 15];
        p += 16;
        break;
      case L_SLL2:
        if (end - p < 20) return ERR - Decoded.Truncated;
        t = (buf[p] << 8) | buf[p + 1];
        p += 20;
        break;
      case L_NULL:
        // A 4-byte address family (host order for null, network order for loop); the values for
        // IPv6 differ between BSDs, so the IP version nibble decides.
        if (end - p < 4) return ERR - Decoded.Truncated;
        p += 4;
        t = L_IP;
        break;
      case L_PPP: {
        // RFC 1661/1662: an optional ff 03 (address, control), then the protocol (one byte when
        // compressed: odd). Cisco HDLC framing (0f/8f first) is found on PPP links too.
        if (end - p < 2) return ERR - Decoded.Truncated;
        if (buf[p] === 0x0f || buf[p] === 0x8f) {
          t = L_HDLC;
          break;
        }
        if (buf[p] === 0xff && buf[p + 1] === 0x03) p += 2;
        if (end - p < 1) return ERR - Decoded.Truncated;
        let proto: number;
        if (buf[p] & 1) proto = buf[p++];
        else {
          if (end - p < 2) return ERR - Decoded.Truncated;
          proto = (buf[p] << 8) | buf[p + 1];
          p += 2;
        }
        t =
          proto === 0x21
            ? ETH_IPV4
            : proto === 0x57
              ? ETH_IPV6
              : proto === 0x281 || proto === 0x283
                ? 0x8847
                : -1000;
        if (t === -1000) return ERR - Decoded.NotIp;
        break;
      }
      case L_HDLC:
        // Cisco HDLC: address, control, then an ethertype.
        if (end - p < 4) return ERR - Decoded.Truncated;
        t = (buf[p + 2] << 8) | buf[p + 3];
        p += 4;
        break;
      case L_PPI: {
        // Per-Packet Information: version, flags, header length and the inner link type (both
        // little-endian), then the packet of that link type.
        if (end - p < 8) return ERR - Decoded.Truncated;
        const hlen = buf[p + 2] | (buf[p + 3] << 8);
        const dlt = buf.readUInt32LE(p + 4);
        if (hlen < 8) return ERR - Decoded.Malformed;
        t = dlt === LINKTYPE_PPI ? L_NONE : layerOfLink(dlt);
        if (t === L_NONE) return ERR - Decoded.UnsupportedLink;
        p += hlen;
        break;
      }
      case L_WIFI: {
        // An 802.11 data frame: header (24 bytes; 30 with four addresses; +2 QoS; +4 HT control),
        // then LLC/SNAP (aa aa 03 + OUI) and the ethertype. Protected frames cannot be read.
        if (end - p < 24) return ERR - Decoded.Truncated;
        let fc = buf[p];
        let flags = buf[p + 1];
        if ((fc & 0x0f) !== 0x08 && (flags & 0x0f) === 0x08) {
          // Cisco controllers send the frame control field byte-swapped (Wireshark's "swap
          // frame control"): version 0 and type data are found in the second byte.
          fc = buf[p + 1];
          flags = buf[p];
        }
        if (((fc >> 2) & 3) !== 2 || fc & 0x40 || flags & 0x40) return ERR - Decoded.NotIp;
        let h = 24;
        if ((flags & 3) === 3) h += 6;
        if (fc & 0x80) {
          h += 2;
          if (flags & 0x80) h += 4;
        }
        if (end - p < h + 8) return ERR - Decoded.Truncated;
        if (buf[p + h] !== 0xaa || buf[p + h + 1] !== 0xaa || buf[p + h + 2] !== 0x03)
          return ERR - Decoded.NotIp;
        t = (buf[p + h + 6] << 8) | buf[p + h + 7];
        p += h + 8;
        break;
      }
      default:
        // Any other ethertype (ARP, LLDP, ...): not IP.
        at = p;
        return t < 0 ? ERR - Decoded.NotIp : t;
    }
  }
  return ERR - Decoded.Malformed;
}

/**
 * Whether the IP payload at `q` (for UDP: the UDP payload) of protocol `proto` is a tunnel we open:
 * returns its TUNNEL_* kind (TUNNEL_NONE: not one, the packet is what it seems) and sets `at`,
 * `innerLayer`, `innerId`.
 */
function tunnelAt(buf: Buffer, q: number, end: number, proto: number, sp: number, dp: number): number {
  innerId = -1;
  if (proto === 4 || proto === 41) {
    at = q;
    innerLayer = L_IP;
    return TUNNEL_IPIP;
  }
  if (proto === 47) return gre(buf, q, end);
  if (dp === VXLAN_PORT) {
    // Flags (I: a VNI is present), 3 reserved bytes, VNI (24 bits), 1 reserved; then Ethernet.
    if (end - q < 8 || !(buf[q] & 0x08)) return TUNNEL_NONE;
    innerId = rd32(buf, q + 4) >>> 8;
    at = q + 8;
    innerLayer = L_ETH;
    return TUNNEL_VXLAN;
  }
  if (dp === GTPU_PORT || sp === GTPU_PORT) return gtpu(buf, q, end);
  if (dp === TEREDO_PORT || sp === TEREDO_PORT) return teredo(buf, q, end);
  return capwap(buf, q, end);
}

/** GRE (RFC 2784/2890) and PPTP's enhanced GRE (RFC 2637, version 1). */
function gre(buf: Buffer, q: number, end: number): number {
  if (end - q < 4) return TUNNEL_NONE;
  const fl = (buf[q] << 8) | buf[q + 1];
  const type = (buf[q + 2] << 8) | buf[q + 3];
  const version = fl & 7;
  let h = q + 4;
  if (version === 0) {
    // Checksum present, or routing present (RFC 1701: its offset field too; source routes are
    // not followed).
    if (fl & 0x4000) return TUNNEL_NONE;
    if (fl & 0x8000) h += 4;
    if (fl & 0x2000) {
      if (end - h < 4) return TUNNEL_NONE;
      innerId = rd32(buf, h);
      h += 4;
    }
    if (fl & 0x1000) h += 4;
  } else if (version === 1) {
    // Key (payload length, call id) always; sequence and acknowledgment numbers when flagged.
    if (!(fl & 0x2000)) return TUNNEL_NONE;
    if (end - h < 4) return TUNNEL_NONE;
    innerId = (buf[h + 2] << 8) | buf[h + 3];
    h += 4;
    if (fl & 0x1000) h += 4;
    if (fl & 0x0080) h += 4;
  } else return TUNNEL_NONE;
  let kind = TUNNEL_GRE;
  switch (type) {
    case ETH_IPV4:
    case ETH_IPV6:
    case 0x8847:
    case 0x8848:
      innerLayer = type;
      break;
    case 0x6558: // transparent Ethernet bridging
      innerLayer = L_ETH;
      break;
    case 0x880b: // PPP (PPTP)
      innerLayer = L_PPP;
      break;
    case 0x88be:
      // ERSPAN type II (sequence present: an 8-byte header) or type I (no header).
      kind = TUNNEL_ERSPAN;
      if (fl & 0x1000) {
        if (end - h < 8) return TUNNEL_NONE;
        innerId = ((buf[h + 2] << 8) | buf[h + 3]) & 0x3ff;
        h += 8;
      }
      innerLayer = L_ETH;
      break;
    case 0x22eb:
      // ERSPAN type III: a 12-byte header, and an 8-byte platform subheader when O is set.
      kind = TUNNEL_ERSPAN;
      if (end - h < 12) return TUNNEL_NONE;
      innerId = ((buf[h + 2] << 8) | buf[h + 3]) & 0x3ff;
      h += buf[h + 11] & 1 ? 20 : 12;
      innerLayer = L_ETH;
      break;
    default:
      return TUNNEL_NONE;
  }
  at = h;
  return kind;
}

/** GTP-U (3GPP TS 29.281): a G-PDU's header, its optional fields and extension headers, then IP. */
function gtpu(buf: Buffer, q: number, end: number): number {
  if (end - q < 8) return TUNNEL_NONE;
  const flags = buf[q];
  // Version 1, protocol type GTP, message type G-PDU (echo and error indications carry no packet).
  if (flags >> 5 !== 1 || !(flags & 0x10) || buf[q + 1] !== 0xff) return TUNNEL_NONE;
  innerId = rd32(buf, q + 4);
  let h = q + 8;
  if (flags & 0x07) {
    // Sequence number, N-PDU number and the next extension header type, present when any of
    // E, S, PN is set; the extensions follow only when E is.
    if (end - h < 4) return TUNNEL_NONE;
    let next = flags & 0x04 ? buf[h + 3] : 0;
    h += 4;
    while (next !== 0) {
      // Each extension: a length in 4-byte units (never 0), its content, the next type last.
      if (end - h < 1) return TUNNEL_NONE;
      const len = buf[h] * 4;
      if (len === 0 || end - h < len) return TUNNEL_NONE;
      next = buf[h + len - 1];
      h += len;
    }
  }
  at = h;
  innerLayer = L_IP;
  return TUNNEL_GTPU;
}

/**
 * Teredo (RFC 4380): an IPv6 packet in UDP, after an optional authentication indication (0001,
 * id and value lengths, id, value, 8-byte nonce, confirmation byte) and an optional origin
 * indication (0000, port, address: 8 bytes). Anything else on the port (bubbles without a body
 * are still IPv6) is left as the UDP flow it is.
 */
function teredo(buf: Buffer, q: number, end: number): number {
  let h = q;
  if (end - h >= 4 && buf[h] === 0 && buf[h + 1] === 1) h += 4 + buf[h + 2] + buf[h + 3] + 9;
  if (end - h >= 8 && buf[h] === 0 && buf[h + 1] === 0) h += 8;
  if (end - h < 40 || buf[h] >> 4 !== 6) return TUNNEL_NONE;
  at = h;
  innerLayer = L_IP;
  return TUNNEL_TEREDO;
}

/**
 * CAPWAP data (RFC 5415): preamble (version 0, type 0: not DTLS), header length in 4-byte words,
 * T set for a native frame (802.11 when the wireless binding is 1), else 802.3; fragments (F) and
 * keep-alives (K) carry no whole frame.
 */
function capwap(buf: Buffer, q: number, end: number): number {
  if (end - q < 8 || buf[q] !== 0) return TUNNEL_NONE;
  const hlen = (buf[q + 1] >> 3) * 4;
  const native = buf[q + 2] & 1;
  const wbid = (buf[q + 2] >> 1) & 31;
  if (hlen < 8 || end - q <= hlen || buf[q + 3] & 0x88) return TUNNEL_NONE;
  if (native && wbid !== 1) return TUNNEL_NONE;
  at = q + hlen;
  innerLayer = native ? L_WIFI : L_ETH;
  return TUNNEL_CAPWAP;
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
