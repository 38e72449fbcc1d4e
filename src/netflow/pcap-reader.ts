/**
 * Format 'netflow-pcap': a pcap/pcapng capture of NetFlow v5/v9/IPFIX export traffic (for example
 * `dumpcap -i eth0 -f 'udp port 2055'`). Every UDP payload that starts with version 5, 9 or 10 is
 * decoded as an export datagram from the packet's source address; other UDP is counted and left.
 * Position of a record = file offset of the packet that carried its datagram.
 *
 * The sniffer is deliberately narrow, since every other capture belongs to the capture reader: the
 * file must be a pcap/pcapng where at least two in three of the first UDP datagrams (up to 8) carry
 * a well-formed export header (version, count/length and first set all consistent), and UDP is at
 * least half of the first packets.
 */
import { Decoded, DecodedPacket, decodePacket } from '../capture/decode.js';
import { captureChunks, pcapMagic, type PacketView } from '../capture/reader.js';
import { Reassembler } from '../capture/reassembly.js';
import { registerFormat } from '../flow/formats.js';
import { ipText, type FlowBatch } from '../flow/record.js';
import type { FlowSource, FlowSourceOptions } from '../flow/source.js';
import { NetflowDecoder, type NetflowDecoderOptions } from './decoder.js';

/** True when `p` holds a plausible NetFlow v5/v9/IPFIX header and first set (sniffing only). */
export function looksLikeExport(b: Buffer, off: number, len: number): boolean {
  if (len < 20) return false;
  const version = (b[off] << 8) | b[off + 1];
  if (version === 5) {
    const count = (b[off + 2] << 8) | b[off + 3];
    return count >= 1 && count <= 64 && len === 24 + 48 * count;
  }
  const hdr = version === 9 ? 20 : version === 10 ? 16 : 0;
  if (!hdr || len < hdr + 4) return false;
  if (version === 10 && ((b[off + 2] << 8) | b[off + 3]) !== len) return false;
  const setId = (b[off + hdr] << 8) | b[off + hdr + 1];
  const setLen = (b[off + hdr + 2] << 8) | b[off + hdr + 3];
  const templateSet = version === 9 ? setId <= 1 : setId === 2 || setId === 3;
  return (templateSet || setId >= 256) && setLen >= 4 && setLen <= len - hdr;
}

/** Calls `cb` for the packets wholly inside `head` (pcap or pcapng), at most `max`. */
export function headPackets(
  head: Buffer,
  max: number,
  cb: (off: number, caplen: number, origLen: number, linkType: number) => void,
): void {
  const kind = pcapMagic(head);
  if (kind === 'pcap') {
    const le = head.readUInt32LE(0) === 0xa1b2c3d4 || head.readUInt32LE(0) === 0xa1b23c4d;
    const u32 = (p: number) => (le ? head.readUInt32LE(p) : head.readUInt32BE(p));
    if (head.length < 24) return;
    const linkType = u32(20) & 0xffff;
    let p = 24;
    for (let n = 0; n < max && p + 16 <= head.length; n++) {
      const caplen = u32(p + 8);
      const orig = u32(p + 12);
      if (p + 16 + caplen > head.length) return;
      cb(p + 16, caplen, orig, linkType);
      p += 16 + caplen;
    }
  } else if (kind === 'pcapng') {
    const le = head.readUInt32LE(8) === 0x1a2b3c4d;
    const u32 = (p: number) => (le ? head.readUInt32LE(p) : head.readUInt32BE(p));
    const u16 = (p: number) => (le ? head.readUInt16LE(p) : head.readUInt16BE(p));
    const links: number[] = [];
    let p = 0;
    let n = 0;
    while (n < max && p + 12 <= head.length) {
      const type = u32(p);
      const blen = u32(p + 4);
      if (blen < 12 || p + blen > head.length) return;
      if (type === 0x0a0d0d0a) links.length = 0;
      else if (type === 1 && blen >= 20) links.push(u16(p + 8));
      else if (type === 6 && blen >= 32) {
        const link = links[u32(p + 8)];
        const caplen = u32(p + 20);
        if (link !== undefined && 28 + caplen <= blen) {
          cb(p + 28, caplen, u32(p + 24), link);
          n++;
        }
      } else if (type === 3 && blen >= 16 && links.length) {
        const orig = u32(p + 8);
        cb(p + 12, Math.min(orig, blen - 16), orig, links[0]);
        n++;
      }
      p += blen;
    }
  }
}

/**
 * True when `head` is a pcap/pcapng whose first UDP datagrams (up to 8) are at least two in three
 * of the kind `looks` recognises, and UDP is at least half of its first packets (the NetFlow and
 * sFlow capture sniffers).
 */
export function sniffExportCapture(
  head: Buffer,
  looks: (b: Buffer, off: number, len: number) => boolean,
): boolean {
  if (!pcapMagic(head)) return false;
  const d = new DecodedPacket();
  let packets = 0;
  let udp = 0;
  let exports = 0;
  let other = 0;
  let seen = 0;
  headPackets(head, 64, (off, caplen, origLen, linkType) => {
    packets++;
    if (decodePacket(head, off, caplen, origLen, linkType, d) !== Decoded.Ok || d.proto !== 17) return;
    udp++;
    let at = d.payloadOffset;
    let len = d.payloadLength;
    if (d.fragment) {
      // A datagram larger than the path's MTU: its first fragment holds the UDP header, whose
      // length field gives the whole payload's; the export header lies in this fragment's bytes.
      if (d.fragOffset !== 0 || d.fragCapEnd - d.fragData < 8 + 40) return;
      at = d.fragData + 8;
      len = ((head[d.fragData + 4] << 8) | head[d.fragData + 5]) - 8;
    }
    if (++seen > 8) return;
    if (looks(head, at, len)) exports++;
    else other++;
  });
  return exports > 0 && exports >= 2 * other && udp * 2 >= packets;
}

export function sniffNetflowCapture(head: Buffer): boolean {
  return sniffExportCapture(head, looksLikeExport);
}

/** Where a UDP payload was found: the packet's (or reassembled datagram's) bytes, file offset, time. */
export type DatagramAt = Pick<PacketView, 'buf' | 'fileOffset' | 'tsMs'>;

/** What a capture reader's decoder does with each UDP payload, and at the end of the capture. */
export interface DatagramSink {
  /**
   * False for a payload that is not this reader's kind. `payload` and `at.buf` are valid during
   * the call only; `d`'s offsets are into `at.buf`.
   */
  datagram(payload: Buffer, at: DatagramAt, d: DecodedPacket): boolean;
  finish(): void;
}

/** A capture reader's decoder options: the file, byte offsets, and where its batches go. */
export type DecoderInput = Pick<
  NetflowDecoderOptions,
  'source' | 'unit' | 'diagnostics' | 'batchSize' | 'onBatch'
>;

/**
 * The UDP payloads of a capture through the sink `start` makes (its decoder hands batches to
 * `input.onBatch`), yielding those batches as the walk goes. Payloads the sink refuses are counted as
 * `notKind`. Fragmented datagrams are reassembled first (capture/reassembly.ts, with its bounds: an
 * exporter's datagram larger than the path's MTU arrives in fragments); the fragments of one given
 * up are counted as `udp.fragments-skipped` and the reason as the reassembler counts it. Shared by
 * the NetFlow and sFlow capture readers.
 */
export async function* exportDatagramBatches(
  path: string,
  opts: FlowSourceOptions,
  notKind: string,
  start: (input: DecoderInput) => DatagramSink,
): FlowSource {
  const diagnostics = opts.diagnostics;
  const ready: FlowBatch[] = [];
  const sink = start({
    source: path,
    unit: 'byte',
    diagnostics,
    batchSize: opts.batchSize ?? 4096,
    onBatch: (b) => ready.push(b),
  });
  const d = new DecodedPacket();
  let other = 0;
  let fragments = 0;
  const udp = (d: DecodedPacket, at: DatagramAt) => {
    const off = d.payloadOffset;
    if (!sink.datagram(at.buf.subarray(off, off + d.payloadLength), at, d)) other++;
  };
  const whole: DatagramAt = { buf: Buffer.alloc(0), fileOffset: 0, tsMs: 0 };
  const reasm = new Reassembler(
    {},
    {
      datagram(d, tsMs, fileOffset, buf) {
        // A fragment inside the datagram (a fragmented packet in a tunnel) is reassembled too.
        if (d.fragment !== 0) return reasm.add(d, tsMs, fileOffset, buf);
        if (d.proto !== 17) return;
        whole.buf = buf;
        whole.fileOffset = fileOffset;
        whole.tsMs = tsMs;
        udp(d, whole);
      },
      fragment(d) {
        if (d.proto === 17) fragments++;
      },
    },
  );
  const chunks = captureChunks(
    path,
    diagnostics,
    (p) => {
      if (decodePacket(p.buf, p.offset, p.caplen, p.origLen, p.linkType, d) !== Decoded.Ok) return;
      if (p.tsMs > reasm.deadline) reasm.expire(p.tsMs);
      if (d.fragment !== 0) reasm.add(d, p.tsMs, p.fileOffset, p.buf);
      else if (d.proto === 17) udp(d, p);
    },
    { onProgress: opts.onProgress },
  );
  for await (const _ of chunks) {
    while (ready.length) yield ready.shift()!;
  }
  reasm.flush();
  sink.finish();
  while (ready.length) yield ready.shift()!;
  if (other) diagnostics.add(notKind, other);
  if (fragments) diagnostics.add('udp.fragments-skipped', fragments);
  reasm.report(
    (k, v) => {
      if (v) diagnostics.add(k, v);
    },
    (kind, offset, message) =>
      diagnostics.problem({
        source: path,
        offset,
        unit: 'byte',
        kind,
        message: message.replace('are counted without ports', 'are skipped (udp.fragments-skipped)'),
      }),
  );
}

function readNetflowCapture(path: string, opts: FlowSourceOptions): FlowSource {
  return exportDatagramBatches(path, opts, 'udp.not-netflow', (input) => {
    const decoder = new NetflowDecoder(input);
    return {
      datagram(payload, at, d) {
        const v = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 0;
        if (v !== 5 && v !== 9 && v !== 10) return false;
        // The payload is a view into the reader's chunk; the decoder copies what it keeps.
        decoder.decode(payload, ipText(at.buf, d.srcOffset, d.ipVersion), d.srcPort, at.fileOffset);
        return true;
      },
      finish: () => decoder.finish(),
    };
  });
}

registerFormat({
  kind: 'netflow-pcap',
  description: 'pcap/pcapng capture of NetFlow v5/v9/IPFIX export datagrams',
  sniff: sniffNetflowCapture,
  read: readNetflowCapture,
});
