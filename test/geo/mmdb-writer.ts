/**
 * A small MaxMind DB writer for the tests (the MaxMind DB File Format Specification 2.0: a binary
 * search tree of fixed-size nodes, 16 zero bytes, the data section, then the metadata after
 * "\xAB\xCD\xEFMaxMind.com"). No npm package writes the format; the files it makes are read back
 * by the `maxmind` package in the tests, which is the reference their lookups are held to.
 */

export type MmdbValue = string | number | boolean | MmdbValue[] | { [k: string]: MmdbValue } | Uint64;

/** A value written as uint64 (build_epoch). */
export class Uint64 {
  constructor(readonly v: bigint) {}
}

function control(type: number, size: number): Buffer {
  const ext = type > 7;
  const head: number[] = [];
  let sizeBytes: number[] = [];
  let s5: number;
  if (size < 29) s5 = size;
  else if (size < 285) {
    s5 = 29;
    sizeBytes = [size - 29];
  } else if (size < 65821) {
    s5 = 30;
    const v = size - 285;
    sizeBytes = [v >> 8, v & 255];
  } else {
    s5 = 31;
    const v = size - 65821;
    sizeBytes = [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  head.push(((ext ? 0 : type) << 5) | s5);
  if (ext) head.push(type - 7);
  return Buffer.from([...head, ...sizeBytes]);
}

function uintBytes(v: bigint): Buffer {
  const out: number[] = [];
  while (v > 0n) {
    out.unshift(Number(v & 255n));
    v >>= 8n;
  }
  return Buffer.from(out);
}

export function encodeValue(v: MmdbValue): Buffer {
  if (v instanceof Uint64) {
    const b = uintBytes(v.v);
    return Buffer.concat([control(9, b.length), b]);
  }
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([control(2, b.length), b]);
  }
  if (typeof v === 'boolean') return control(14, v ? 1 : 0);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw new Error(`only unsigned integers: ${v}`);
    const b = uintBytes(BigInt(v));
    return Buffer.concat([control(v <= 0xffff ? 5 : 6, b.length), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encodeValue)]);
  const keys = Object.keys(v);
  return Buffer.concat([
    control(7, keys.length),
    ...keys.flatMap((k) => [encodeValue(k), encodeValue(v[k])]),
  ]);
}

export interface MmdbNetwork {
  /** Network start as an integer (IPv4 for ipVersion 4; the full 128 bits for 6). */
  start: bigint;
  prefix: number;
  data: { [k: string]: MmdbValue };
}

interface Node {
  kids: [Node | number | null, Node | number | null];
  id?: number;
}

export interface WriteMmdbOptions {
  ipVersion: 4 | 6;
  recordSize: 24 | 28 | 32;
  databaseType: string;
  buildEpoch: number;
  /** IPv6 trees: point ::ffff:0:0/96 and 2002::/16 at the ::/96 node, as MaxMind's writer does. */
  ipv4Aliases?: boolean;
  description?: string;
}

/**
 * A .mmdb file holding `networks` (disjoint prefixes; a later one inside an earlier one replaces
 * that part of it, as a more specific network).
 */
export function writeMmdb(networks: MmdbNetwork[], o: WriteMmdbOptions): Buffer {
  const bits = o.ipVersion === 4 ? 32 : 128;
  const root: Node = { kids: [null, null] };
  // Data section: each distinct record once, then leaves point at its offset.
  const dataParts: Buffer[] = [];
  const dataOffset = new Map<string, number>();
  let dataLen = 0;
  const dataFor = (d: MmdbNetwork['data']): number => {
    const key = JSON.stringify(d, (_k, x) => (x instanceof Uint64 ? String(x.v) : x));
    let off = dataOffset.get(key);
    if (off === undefined) {
      const b = encodeValue(d);
      off = dataLen;
      dataParts.push(b);
      dataLen += b.length;
      dataOffset.set(key, off);
    }
    return off;
  };
  for (const n of networks) {
    const off = dataFor(n.data);
    let node = root;
    for (let d = 0; d < n.prefix; d++) {
      const bit = Number((n.start >> BigInt(bits - 1 - d)) & 1n);
      if (d === n.prefix - 1) {
        node.kids[bit] = -1 - off; // a leaf: -1 - data offset
        break;
      }
      let next = node.kids[bit];
      if (typeof next === 'number') {
        // Split a leaf: both halves keep its data until the more specific network replaces one.
        const split: Node = { kids: [next, next] };
        node.kids[bit] = split;
        next = split;
      } else if (next === null) {
        const fresh: Node = { kids: [null, null] };
        node.kids[bit] = fresh;
        next = fresh;
      }
      node = next as Node;
    }
  }
  if (o.ipVersion === 6 && o.ipv4Aliases) {
    // ::ffff:0:0/96 and 2002::/16 → the very node of ::/96 (shared, not copied).
    let v4: Node | number | null = root;
    for (let d = 0; d < 96 && v4 && typeof v4 === 'object'; d++) v4 = v4.kids[0];
    if (!v4 || typeof v4 !== 'object') throw new Error('no ::/96 subtree to alias');
    const target = v4;
    const alias = (prefixBits: number[]) => {
      let node = root;
      for (let d = 0; d < prefixBits.length - 1; d++) {
        const bit = prefixBits[d];
        let next = node.kids[bit];
        if (typeof next === 'number') throw new Error('alias path runs into a network');
        if (next === null) {
          next = { kids: [null, null] };
          node.kids[bit] = next;
        }
        node = next;
      }
      node.kids[prefixBits[prefixBits.length - 1]] = target;
    };
    alias([...new Array<number>(80).fill(0), ...new Array<number>(16).fill(1)]);
    alias([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
  }
  // Number the nodes breadth first (root = 0); an aliased node is numbered once.
  const order: Node[] = [];
  const queue: Node[] = [root];
  while (queue.length) {
    const n = queue.shift()!;
    if (n.id !== undefined) continue;
    n.id = order.length;
    order.push(n);
    for (const k of n.kids) if (k && typeof k === 'object') queue.push(k);
  }
  const nodeCount = order.length;
  const recordValue = (k: Node | number | null): number =>
    k === null ? nodeCount : typeof k === 'number' ? nodeCount + 16 + (-1 - k) : k.id!;
  const nodeBytes = (o.recordSize * 2) / 8;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  for (const n of order) {
    const l = recordValue(n.kids[0]);
    const r = recordValue(n.kids[1]);
    const off = n.id! * nodeBytes;
    if (o.recordSize === 24) {
      tree.writeUIntBE(l, off, 3);
      tree.writeUIntBE(r, off + 3, 3);
    } else if (o.recordSize === 28) {
      tree.writeUIntBE(l & 0xffffff, off, 3);
      tree[off + 3] = ((Math.floor(l / 2 ** 24) & 0x0f) << 4) | (Math.floor(r / 2 ** 24) & 0x0f);
      tree.writeUIntBE(r & 0xffffff, off + 4, 3);
    } else {
      tree.writeUInt32BE(l, off);
      tree.writeUInt32BE(r, off + 4);
    }
  }
  const meta = encodeValue({
    node_count: nodeCount,
    record_size: o.recordSize,
    ip_version: o.ipVersion,
    database_type: o.databaseType,
    languages: ['en'],
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: new Uint64(BigInt(o.buildEpoch)),
    description: { en: o.description ?? `${o.databaseType} written by coinradar's tests` },
  });
  return Buffer.concat([
    tree,
    Buffer.alloc(16),
    ...dataParts,
    Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'),
    meta,
  ]);
}
