/**
 * Every UDP datagram payload in a capture, with its endpoints: how the NetFlow reader gets at
 * export datagrams (UDP/2055, 4739, 9995 ...) stored in a pcap. Fragmented datagrams are counted
 * (`udp.fragments-skipped`) and skipped: their payload is not whole.
 */
import type { Diagnostics } from '../flow/diagnostics.js';
import { ipText } from '../flow/record.js';
import { Decoded, DecodedPacket, decodePacket } from './decode.js';
import { readCapture } from './reader.js';

/**
 * Calls `cb` for each UDP payload, in file order. `payload` is a view into the reader's chunk,
 * valid only during the callback (copy it to keep it).
 */
export async function forEachUdpPayload(
  path: string,
  diagnostics: Diagnostics,
  cb: (
    payload: Buffer,
    src: string,
    srcPort: number,
    dst: string,
    dstPort: number,
    tsMs: number,
    fileOffset: number,
  ) => void,
): Promise<void> {
  const d = new DecodedPacket();
  let datagrams = 0;
  let fragments = 0;
  await readCapture(path, diagnostics, (p) => {
    const r = decodePacket(p.buf, p.offset, p.caplen, p.origLen, p.linkType, d);
    if (r !== Decoded.Ok || d.proto !== 17) return;
    if (d.fragment) {
      fragments++;
      return;
    }
    datagrams++;
    const payload = p.buf.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength);
    const src = ipText(p.buf, d.srcOffset, d.ipVersion);
    const dst = ipText(p.buf, d.dstOffset, d.ipVersion);
    cb(payload, src, d.srcPort, dst, d.dstPort, p.tsMs, p.fileOffset);
  });
  diagnostics.add('udp.datagrams', datagrams);
  if (fragments) diagnostics.add('udp.fragments-skipped', fragments);
}
