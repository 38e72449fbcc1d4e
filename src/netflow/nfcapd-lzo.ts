/**
 * LZO1X decompression (the format of lzo1x_1_compress, which nfcapd -z writes per data block).
 * Written here because node has no LZO and the npm ports are unmaintained; it is proved against
 * real `nfcapd -z` files in test/netflow/nfcapd.test.ts. Every read and write is bounds-checked:
 * corrupt input throws a RangeError, never reads or writes outside the two buffers. One loop over
 * local variables (no closures over `ip`/`op`, which V8 would keep in a context, not registers).
 */

function corrupt(what: string, at: number): never {
  throw new RangeError(`LZO ${what} at input byte ${at}`);
}

/**
 * A long length: how many zero bytes (255 each) come before its last, non-zero byte. Throws when
 * the input ends first or the length would pass the output's size.
 */
function zeroBytes(src: Uint8Array, ip: number, outEnd: number): number {
  let k = ip;
  while (k < src.length && src[k] === 0) {
    k++;
    if ((k - ip) * 255 > outEnd) corrupt('run length beyond the output', k);
  }
  if (k >= src.length) corrupt('length runs past the input', k);
  return k - ip;
}

/** Decompress `src` into `dst`; returns the number of bytes written. Throws RangeError when corrupt. */
export function lzo1xDecompress(src: Uint8Array, dst: Uint8Array): number {
  const inEnd = src.length;
  const outEnd = dst.length;
  let ip = 0;
  let op = 0;
  let t: number;
  let len: number;
  let m: number;
  // Where an instruction starts, an opcode below 16 is a run of 4+ literals (`runAllowed`); right
  // after such a run (or the stream's first 4+ literals) a short opcode is a 3-byte match 2 KiB
  // further back (`afterRun`), and after a match's 0-3 trailing literals a 2-byte match.
  let runAllowed = true;
  let afterRun = false;

  if (inEnd === 0) corrupt('input is empty', 0);
  t = src[ip++];
  if (t > 17) {
    // The stream may open with 1-238 literals in a single byte.
    len = t - 17;
    if (ip + len > inEnd) corrupt('literals run past the input', ip);
    if (len > outEnd) corrupt('output is too small', ip);
    for (let k = 0; k < len; k++) dst[op++] = src[ip++];
    afterRun = len >= 4;
    runAllowed = false;
    if (ip >= inEnd) corrupt('input ends', ip);
    t = src[ip++];
  }

  for (;;) {
    if (t < 16 && runAllowed) {
      // A run of 4+ literals: 0 means 18 + 255 per further zero byte + the next byte.
      len = t + 3;
      if (t === 0) {
        const zeros = zeroBytes(src, ip, outEnd);
        ip += zeros;
        len = 18 + 255 * zeros + src[ip++];
      }
      if (ip + len > inEnd) corrupt('literals run past the input', ip);
      if (op + len > outEnd) corrupt('output is too small', ip);
      if (len < 32) for (let k = 0; k < len; k++) dst[op++] = src[ip++];
      else {
        dst.set(src.subarray(ip, ip + len), op);
        ip += len;
        op += len;
      }
      afterRun = true;
      if (ip >= inEnd) corrupt('input ends', ip);
      t = src[ip++];
    }
    runAllowed = false;
    if (t >= 64) {
      if (ip >= inEnd) corrupt('input ends', ip);
      m = op - 1 - ((t >> 2) & 7) - (src[ip++] << 3);
      len = (t >> 5) + 1;
    } else if (t >= 32) {
      len = t & 31;
      if (len === 0) {
        const zeros = zeroBytes(src, ip, outEnd);
        ip += zeros;
        len = 31 + 255 * zeros + src[ip++];
      }
      if (ip + 2 > inEnd) corrupt('input ends', ip);
      m = op - 1 - ((src[ip] >> 2) + (src[ip + 1] << 6));
      ip += 2;
      len += 2;
    } else if (t >= 16) {
      len = t & 7;
      m = op - ((t & 8) << 11);
      if (len === 0) {
        const zeros = zeroBytes(src, ip, outEnd);
        ip += zeros;
        len = 7 + 255 * zeros + src[ip++];
      }
      if (ip + 2 > inEnd) corrupt('input ends', ip);
      m -= (src[ip] >> 2) + (src[ip + 1] << 6);
      ip += 2;
      if (m === op) return op; // end-of-stream marker
      m -= 0x4000;
      len += 2;
    } else {
      if (ip >= inEnd) corrupt('input ends', ip);
      if (afterRun) {
        m = op - 1 - 0x800 - (t >> 2) - (src[ip++] << 2);
        len = 3;
      } else {
        m = op - 1 - (t >> 2) - (src[ip++] << 2);
        len = 2;
      }
    }
    if (m < 0 || m >= op) corrupt('match distance beyond the output', ip);
    if (op + len > outEnd) corrupt('output is too small', ip);
    if (len >= 32 && op - m >= len) {
      dst.copyWithin(op, m, m + len);
      op += len;
    } else for (let k = 0; k < len; k++) dst[op++] = dst[m++];

    // The low two bits of the match's first distance byte (or opcode) carry 0-3 trailing literals.
    t = src[ip - 2] & 3;
    if (t === 0) {
      runAllowed = true;
      afterRun = false;
    } else {
      if (ip + t > inEnd) corrupt('literals run past the input', ip);
      if (op + t > outEnd) corrupt('output is too small', ip);
      for (let k = 0; k < t; k++) dst[op++] = src[ip++];
      afterRun = false;
    }
    if (ip >= inEnd) corrupt('input ends', ip);
    t = src[ip++];
  }
}
