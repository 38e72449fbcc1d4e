/** DNS queries: the first question name of a DNS message (UDP, or TCP with its length prefix). */

/** The question name of the DNS message at `off`, or null when the bytes are not a query/response with one. */
export function parseDnsQuestion(b: Buffer, off = 0): string | null {
  if (b.length - off < 17) return null;
  const flags = b.readUInt16BE(off + 2);
  const opcode = (flags >> 11) & 0xf;
  const qd = b.readUInt16BE(off + 4);
  if (opcode !== 0 || qd < 1 || qd > 16) return null;
  let p = off + 12;
  const labels: string[] = [];
  for (let n = 0; n < 128; n++) {
    if (p >= b.length) return null;
    const len = b[p];
    if (len === 0) break;
    if (len > 63) return null; // compression pointers never appear in the first question
    if (p + 1 + len > b.length) return null;
    const label = b.toString('latin1', p + 1, p + 1 + len);
    if (!/^[A-Za-z0-9_-]+$/.test(label)) return null;
    labels.push(label);
    p += 1 + len;
  }
  if (labels.length === 0) return null;
  return labels.join('.').toLowerCase();
}

/** DNS ports: 53 (DNS), 5353 (mDNS), 5355 (LLMNR). */
export function isDnsPort(port: number): boolean {
  return port === 53 || port === 5353 || port === 5355;
}
