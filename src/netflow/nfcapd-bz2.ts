/**
 * BZ2 decompression of one nfcapd -j data block (a whole bzip2 stream, as BZ2_bzCompress writes it)
 * through seek-bzip, the pure-JavaScript bzip2 decoder (node's zlib has no bzip2). Its input and
 * output are wrapped so that a truncated stream throws instead of reading `undefined` as zero bits,
 * and a stream that inflates past the block limit (a bomb) throws instead of growing a buffer.
 */
import Bunzip from 'seek-bzip';

/** Decompress `src` into `dst`; returns the number of bytes written. Throws when corrupt or too large. */
export function bz2Decompress(src: Uint8Array, dst: Uint8Array): number {
  let ip = 0;
  let op = 0;
  const cap = dst.length;
  Bunzip.decode(
    {
      readByte() {
        if (ip >= src.length) throw new RangeError('BZ2 data ends early');
        return src[ip++];
      },
      read(buf: Uint8Array, off: number, len: number) {
        const n = Math.min(len, src.length - ip);
        if (n <= 0) return -1;
        buf.set(src.subarray(ip, ip + n), off);
        ip += n;
        return n;
      },
      seek(pos: number) {
        ip = pos;
      },
      eof() {
        return ip >= src.length;
      },
    },
    {
      writeByte(b: number) {
        if (op >= cap) throw new RangeError(`BZ2 output exceeds ${cap} bytes`);
        dst[op++] = b;
      },
      flush() {},
    },
    true,
  );
  return op;
}
