/**
 * LZO1X decompression (the format of lzo1x_1_compress, which nfcapd -z writes per data block).
 * Written here because node has no LZO and the npm ports are unmaintained; it is proved against
 * real `nfcapd -z` files in test/netflow/nfcapd.test.ts. Every read and write is bounds-checked:
 * corrupt input throws a RangeError, never reads or writes outside the two buffers.
 */

/** Decompress `src` into `dst`; returns the number of bytes written. Throws RangeError when corrupt. */
export function lzo1xDecompress(src: Uint8Array, dst: Uint8Array): number {
  const inEnd = src.length;
  const outEnd = dst.length;
  let ip = 0;
  let op = 0;
  let t: number;
  let mPos = 0;

  const need = (n: number) => {
    if (ip + n > inEnd) throw new RangeError(`LZO input ends at ${inEnd} (needs ${ip + n})`);
  };
  const room = (n: number) => {
    if (op + n > outEnd) throw new RangeError(`LZO output exceeds ${outEnd} bytes`);
  };
  const literals = (n: number) => {
    need(n);
    room(n);
    // Most runs are a few bytes: a loop beats making a subarray for set().
    if (n < 32) for (let k = 0; k < n; k++) dst[op++] = src[ip++];
    else {
      dst.set(src.subarray(ip, ip + n), op);
      ip += n;
      op += n;
    }
  };
  // A run length continued by zero bytes (each worth 255) and a final non-zero byte.
  const longLength = (base: number) => {
    let n = 0;
    need(1);
    while (src[ip] === 0) {
      n += 255;
      ip++;
      need(1);
      // No real block is this long; stops a run of zeros from counting for ever.
      if (n > outEnd) throw new RangeError('LZO run length beyond the output');
    }
    return n + base + src[ip++];
  };
  // A match may overlap its own output (distance < length): those, and short ones, byte by byte.
  const match = (len: number) => {
    if (mPos < 0 || mPos >= op) throw new RangeError(`LZO match distance beyond the output at ${ip}`);
    room(len);
    if (len >= 32 && op - mPos >= len) {
      dst.copyWithin(op, mPos, mPos + len);
      op += len;
    } else for (let k = 0; k < len; k++) dst[op++] = dst[mPos++];
  };

  const next = () => {
    need(1);
    return src[ip++];
  };
  // A short opcode (< 16) means a 3-byte match further back right after a run of 4+ literals (or
  // the stream's first literals), and a 2-byte match after a match's 0-3 trailing literals.
  let afterLiteralRun = false;
  // An opcode below 16 where an instruction starts is a run of 4+ literals; returns the opcode after.
  const literalRunOr = (op0: number) => {
    afterLiteralRun = op0 < 16;
    if (!afterLiteralRun) return op0;
    literals(op0 === 0 ? longLength(15) + 3 : op0 + 3);
    return next();
  };

  if (next() > 17) {
    // The stream may open with 1-238 literals in a single byte.
    t = src[0] - 17;
    literals(t);
    afterLiteralRun = t >= 4;
    t = next();
  } else {
    t = literalRunOr(src[0]);
  }

  for (;;) {
    if (t >= 64) {
      need(1);
      mPos = op - 1 - ((t >> 2) & 7) - (src[ip++] << 3);
      match((t >> 5) + 1);
    } else if (t >= 32) {
      let len = t & 31;
      if (len === 0) len = longLength(31);
      need(2);
      mPos = op - 1 - ((src[ip] >> 2) + (src[ip + 1] << 6));
      ip += 2;
      match(len + 2);
    } else if (t >= 16) {
      let len = t & 7;
      mPos = op - ((t & 8) << 11);
      if (len === 0) len = longLength(7);
      need(2);
      mPos -= (src[ip] >> 2) + (src[ip + 1] << 6);
      ip += 2;
      if (mPos === op) return op; // end-of-stream marker
      mPos -= 0x4000;
      match(len + 2);
    } else if (afterLiteralRun) {
      // After a run of 4+ literals, a short opcode is a 3-byte match further back.
      need(1);
      mPos = op - 1 - 0x800 - (t >> 2) - (src[ip++] << 2);
      match(3);
    } else {
      need(1);
      mPos = op - 1 - (t >> 2) - (src[ip++] << 2);
      match(2);
    }
    // The low two bits of the match's first distance byte (or opcode) carry 0-3 trailing literals.
    t = src[ip - 2] & 3;
    if (t === 0) {
      t = literalRunOr(next());
    } else {
      literals(t);
      afterLiteralRun = false;
      t = next();
    }
  }
}
