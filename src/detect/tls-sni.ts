/** TLS ClientHello server name (SNI): where a client connects when it speaks TLS (pool over TLS). */

/** The SNI host name of a ClientHello at the start of `b`, or null. Never reads past `b`. */
export function parseClientHelloSni(b: Buffer): string | null {
  // record: type 22, version 3.x, length; handshake: type 1 (ClientHello), length(3)
  if (b.length < 48 || b[0] !== 0x16 || b[1] !== 0x03 || b[5] !== 0x01) return null;
  const end = Math.min(b.length, 5 + b.readUInt16BE(3));
  let p = 9 + 2 + 32; // handshake header, client_version, random
  if (p >= end) return null;
  p += 1 + b[p]; // session id
  if (p + 2 > end) return null;
  p += 2 + b.readUInt16BE(p); // cipher suites
  if (p + 1 > end) return null;
  p += 1 + b[p]; // compression methods
  if (p + 2 > end) return null;
  const extEnd = Math.min(end, p + 2 + b.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return null;
    if (type === 0) {
      // server_name_list: length(2), then entries type(1) length(2) name
      let q = p + 2;
      const listEnd = Math.min(p + len, p + 2 + b.readUInt16BE(p));
      while (q + 3 <= listEnd) {
        const nameType = b[q];
        const nameLen = b.readUInt16BE(q + 1);
        q += 3;
        if (q + nameLen > listEnd) return null;
        if (nameType === 0) {
          const name = b.toString('latin1', q, q + nameLen);
          return /^[a-zA-Z0-9.-]{1,253}$/.test(name) ? name.toLowerCase() : null;
        }
        q += nameLen;
      }
      return null;
    }
    p += len;
  }
  return null;
}
