/**
 * Inputs for the property-based fuzzer: a seed from the target's corpus with a short list of
 * mutations applied, or (rarely) bytes from nowhere. Everything is a fast-check arbitrary, so a
 * failing input shrinks to fewer and smaller mutations of the same seed: the reproducer that is
 * saved is close to a real file with the one change that breaks the parser.
 */
import fc from 'fast-check';

export type Mutation =
  | { k: 'flip'; at: number; bit: number }
  | { k: 'byte'; at: number; v: number }
  | { k: 'int'; at: number; width: 1 | 2 | 4; v: number; le: boolean }
  | { k: 'insert'; at: number; bytes: Uint8Array }
  | { k: 'token'; at: number; t: number; replace: boolean }
  | { k: 'delete'; at: number; n: number }
  | { k: 'repeat'; at: number; n: number; times: number }
  | { k: 'splice'; at: number; from: number; seed: number; n: number }
  | { k: 'truncate'; at: number };

export interface FuzzInput {
  seed: number;
  mutations: Mutation[];
  /** Bytes from nowhere (used instead of a seed when set). */
  raw: Uint8Array | null;
}

/** Values that sit on the edges of length and count fields. */
const EDGE_INTS = [
  0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xfe, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000,
];
const EDGE_INTS32 = [0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x1000000, 65535 * 16];

/** Largest input the mutator builds (a `repeat` can grow a seed; parsers get no more than this). */
export const MAX_INPUT = 4 << 20;

export function mutationArb(seedCount: number, tokenCount: number): fc.Arbitrary<Mutation> {
  const at = fc.nat();
  const ops: fc.Arbitrary<Mutation>[] = [
    fc.record({ k: fc.constant('flip' as const), at, bit: fc.nat(7) }),
    fc.record({
      k: fc.constant('byte' as const),
      at,
      v: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x2c),
    }),
    fc.record({
      k: fc.constant('int' as const),
      at,
      width: fc.constantFrom(1 as const, 2 as const, 4 as const),
      v: fc.oneof(fc.constantFrom(...EDGE_INTS, ...EDGE_INTS32), fc.nat()),
      le: fc.boolean(),
    }),
    fc.record({
      k: fc.constant('insert' as const),
      at,
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
    fc.record({ k: fc.constant('delete' as const), at, n: fc.integer({ min: 1, max: 256 }) }),
    fc.record({
      k: fc.constant('repeat' as const),
      at,
      n: fc.integer({ min: 1, max: 512 }),
      times: fc.integer({ min: 1, max: 64 }),
    }),
    fc.record({
      k: fc.constant('splice' as const),
      at,
      from: fc.nat(),
      seed: fc.nat(Math.max(0, seedCount - 1)),
      n: fc.integer({ min: 1, max: 1024 }),
    }),
    fc.record({ k: fc.constant('truncate' as const), at }),
  ];
  if (tokenCount > 0)
    ops.push(
      fc.record({ k: fc.constant('token' as const), at, t: fc.nat(tokenCount - 1), replace: fc.boolean() }),
    );
  return fc.oneof(...ops);
}

export function inputArb(seedCount: number, tokenCount: number): fc.Arbitrary<FuzzInput> {
  const mutated = fc.record({
    seed: fc.nat(Math.max(0, seedCount - 1)),
    mutations: fc.array(mutationArb(seedCount, tokenCount), { minLength: 0, maxLength: 8 }),
    raw: fc.constant(null),
  });
  const raw = fc.record({
    seed: fc.constant(0),
    mutations: fc.constant([] as Mutation[]),
    raw: fc.uint8Array({ maxLength: 512 }),
  });
  return seedCount > 0 ? fc.oneof({ arbitrary: mutated, weight: 19 }, { arbitrary: raw, weight: 1 }) : raw;
}

function writeInt(b: Buffer, at: number, width: 1 | 2 | 4, v: number, le: boolean): void {
  if (b.length < width) return;
  const p = at % (b.length - width + 1);
  if (width === 1) b[p] = v & 0xff;
  else if (width === 2 && le) b.writeUInt16LE(v & 0xffff, p);
  else if (width === 2) b.writeUInt16BE(v & 0xffff, p);
  else if (le) b.writeUInt32LE(v >>> 0, p);
  else b.writeUInt32BE(v >>> 0, p);
}

/** Apply one mutation; returns the new buffer (mutated in place where the length is unchanged). */
function apply(b: Buffer, m: Mutation, seeds: readonly Buffer[], tokens: readonly Buffer[]): Buffer {
  const pos = (n: number) => (b.length === 0 ? 0 : m.at % (b.length + n));
  switch (m.k) {
    case 'flip':
      if (b.length) b[pos(0)] ^= 1 << m.bit;
      return b;
    case 'byte':
      if (b.length) b[pos(0)] = m.v;
      return b;
    case 'int':
      writeInt(b, m.at, m.width, m.v, m.le);
      return b;
    case 'insert': {
      const p = pos(1);
      return Buffer.concat([b.subarray(0, p), m.bytes, b.subarray(p)]);
    }
    case 'token': {
      const t = tokens[m.t];
      const p = pos(1);
      const end = m.replace ? Math.min(b.length, p + t.length) : p;
      return Buffer.concat([b.subarray(0, p), t, b.subarray(end)]);
    }
    case 'delete': {
      const p = pos(0);
      return Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + m.n))]);
    }
    case 'repeat': {
      const p = pos(0);
      const piece = b.subarray(p, Math.min(b.length, p + m.n));
      if (b.length + piece.length * m.times > MAX_INPUT) return b;
      return Buffer.concat([b.subarray(0, p), ...Array<Buffer>(m.times).fill(piece), b.subarray(p)]);
    }
    case 'splice': {
      const other = seeds[m.seed] ?? b;
      if (other.length === 0) return b;
      const from = m.from % other.length;
      const piece = other.subarray(from, Math.min(other.length, from + m.n));
      const p = pos(1);
      if (b.length + piece.length > MAX_INPUT) return b;
      return Buffer.concat([b.subarray(0, p), piece, b.subarray(p)]);
    }
    case 'truncate':
      return b.subarray(0, pos(1));
  }
}

/** The bytes an input stands for (a fresh Buffer: seeds are never modified). */
export function materialize(input: FuzzInput, seeds: readonly Buffer[], tokens: readonly Buffer[]): Buffer {
  if (input.raw || seeds.length === 0) return Buffer.from(input.raw ?? []);
  let b: Buffer = Buffer.from(seeds[input.seed]);
  for (const m of input.mutations) b = apply(b, m, seeds, tokens);
  return b;
}
