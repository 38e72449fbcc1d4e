/**
 * LZ4 block decompression (the raw block format of LZ4_compress_default, which nfcapd -y writes per
 * data block; no frame header). Small enough to own rather than pull in a native binding; proved
 * against real `nfcapd -y` files in test/netflow/nfcapd.test.ts. Bounds-checked like LZ4_decompress_safe.
 */

/** Decompress `src` into `dst`; returns the number of bytes written. Throws RangeError when corrupt. */
export function lz4BlockDecompress(src: Uint8Array, dst: Uint8Array): number {
  const inEnd = src.length;
  const outEnd = dst.length;
  let ip = 0;
  let op = 0;
  // A length of 15 in the token continues in bytes of 255 and a last byte below 255.
  const moreLength = () => {
    let n = 0;
    let b: number;
    do {
      if (ip >= inEnd) throw new RangeError('LZ4 length runs past the input');
      b = src[ip++];
      n += b;
    } while (b === 255);
    return n;
  };
  while (ip < inEnd) {
    const token = src[ip++];
    let lit = token >> 4;
    if (lit === 15) lit += moreLength();
    if (ip + lit > inEnd) throw new RangeError(`LZ4 literals run past the input at ${ip}`);
    if (op + lit > outEnd) throw new RangeError(`LZ4 output exceeds ${outEnd} bytes`);
    // Most runs are a few bytes: a loop beats making a subarray for set().
    if (lit < 32) for (let k = 0; k < lit; k++) dst[op++] = src[ip++];
    else {
      dst.set(src.subarray(ip, ip + lit), op);
      ip += lit;
      op += lit;
    }
    if (ip === inEnd) return op; // the last sequence carries literals only
    if (ip + 2 > inEnd) throw new RangeError('LZ4 match offset cut short');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new RangeError(`LZ4 match offset ${offset} beyond the output`);
    let len = token & 15;
    if (len === 15) len += moreLength();
    len += 4;
    if (op + len > outEnd) throw new RangeError(`LZ4 output exceeds ${outEnd} bytes`);
    let m = op - offset;
    if (offset >= len && len >= 32) {
      dst.copyWithin(op, m, m + len);
      op += len;
    } else {
      // Short, or overlapping (a repeat of the last `offset` bytes): copied forwards byte by byte.
      for (let k = 0; k < len; k++) dst[op++] = dst[m++];
    }
  }
  // A valid block ends with a sequence of literals only (also an empty block has none).
  throw new RangeError('LZ4 block does not end with literals');
}
