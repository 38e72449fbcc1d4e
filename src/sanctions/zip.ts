/**
 * A small reader for the .zip archives OFAC publishes (sdn.zip-style sets of the classic CSVs,
 * SDN_ADVANCED.ZIP): the central directory at the end, each entry stored or deflated, checked
 * against its CRC-32 and declared size. The archive is hostile input: its size and each entry's
 * inflated size are bounded (zlib stops at the bound, so a zip bomb costs at most that), names are
 * reduced to their base name (no path leaves the extraction folder), and encrypted, ZIP64 and
 * other methods are refused with the entry's name.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { crc32, inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  /** The entry's name in the archive, as written. */
  name: string;
  /** Its base name (what it is extracted as). */
  base: string;
  data: Buffer;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function isZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4;
}

/**
 * The entries of a zip file whose base name `want` accepts, inflated. `maxBytes` bounds the file
 * and every entry's inflated size; `maxTotal` all of them together.
 */
export function readZip(
  path: string,
  want: (base: string) => boolean,
  maxBytes: number,
  maxTotal = maxBytes,
): { entries: ZipEntry[]; left: string[] } {
  const size = statSync(path).size;
  if (size > maxBytes) throw new Error(`${path}: ${size} bytes, more than the limit of ${maxBytes}`);
  const z = readFileSync(path);
  const bad = (off: number, what: string) => new Error(`${path}:${off}: ${what}`);
  let eocd = -1;
  for (let i = z.length - 22; i >= Math.max(0, z.length - 22 - 65535); i--)
    if (z.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw bad(z.length, 'no end of central directory record: not a zip file, or cut short');
  const count = z.readUInt16LE(eocd + 10);
  const cdSize = z.readUInt32LE(eocd + 12);
  const cdOff = z.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOff === 0xffffffff) throw bad(eocd, 'ZIP64 archive: not supported');
  if (cdOff + cdSize > eocd)
    throw bad(eocd, `central directory at ${cdOff} (+${cdSize}) runs past its end record`);
  const entries: ZipEntry[] = [];
  const left: string[] = [];
  let total = 0;
  let p = cdOff;
  for (let k = 0; k < count; k++) {
    if (p + 46 > eocd || z.readUInt32LE(p) !== CENTRAL)
      throw bad(p, `central directory entry ${k + 1} of ${count} missing`);
    const flags = z.readUInt16LE(p + 8);
    const method = z.readUInt16LE(p + 10);
    const crc = z.readUInt32LE(p + 16);
    const csize = z.readUInt32LE(p + 20);
    const usize = z.readUInt32LE(p + 24);
    const nlen = z.readUInt16LE(p + 28);
    const xlen = z.readUInt16LE(p + 30);
    const clen = z.readUInt16LE(p + 32);
    const local = z.readUInt32LE(p + 42);
    const name = z.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nlen);
    p += 46 + nlen + xlen + clen;
    const base = basename(name.replace(/\\/g, '/'));
    // A name ending in a separator, or whose last part is '.' or '..', names no file to extract.
    if (name.endsWith('/') || base === '' || base === '.' || base === '..' || !want(base)) {
      left.push(name);
      continue;
    }
    if (flags & 1) throw bad(local, `${name}: encrypted`);
    if (csize === 0xffffffff || usize === 0xffffffff) throw bad(local, `${name}: ZIP64 entry: not supported`);
    if (usize > maxBytes)
      throw bad(local, `${name}: ${usize} bytes inflated, more than the limit of ${maxBytes}`);
    total += usize;
    if (total > maxTotal)
      throw bad(local, `${name}: the entries inflate to more than the limit of ${maxTotal}`);
    if (local + 30 > z.length || z.readUInt32LE(local) !== LOCAL)
      throw bad(local, `${name}: no local header`);
    const start = local + 30 + z.readUInt16LE(local + 26) + z.readUInt16LE(local + 28);
    if (start + csize > z.length) throw bad(start, `${name}: data runs past the end of the file`);
    const raw = z.subarray(start, start + csize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) {
      try {
        // One byte over the declared size is enough to tell a lying header; zlib stops there.
        data = inflateRawSync(raw, { maxOutputLength: usize + 1 });
      } catch (e) {
        throw new Error(`${path}:${start}: ${name}: ${(e as Error).message}`, { cause: e });
      }
    } else throw bad(local, `${name}: compression method ${method} (only stored and deflate)`);
    if (data.length !== usize)
      throw bad(start, `${name}: ${data.length} bytes inflated, the directory says ${usize}`);
    if (crc32(data) !== crc) throw bad(start, `${name}: CRC-32 mismatch`);
    entries.push({ name, base, data });
  }
  return { entries, left };
}
