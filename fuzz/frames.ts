/**
 * Several datagrams in one fuzz input: frames of `[exporter: u8][length: u16 BE][bytes]`. A length
 * past the end takes what is left, so every byte string is a valid sequence of frames and a
 * mutation never makes an input unreadable, only different.
 */

export function forEachFrame(input: Buffer, fn: (exporter: number, datagram: Buffer) => void): void {
  let p = 0;
  while (p + 3 <= input.length) {
    const exporter = input[p];
    const len = input.readUInt16BE(p + 1);
    const end = Math.min(input.length, p + 3 + len);
    fn(exporter, input.subarray(p + 3, end));
    p = end;
  }
}

export function frame(exporter: number, datagram: Buffer): Buffer {
  const h = Buffer.alloc(3);
  h[0] = exporter;
  h.writeUInt16BE(datagram.length, 1);
  return Buffer.concat([h, datagram]);
}
