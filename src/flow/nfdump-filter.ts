/**
 * nfdump's filter language (`nfdump -r FILE 'proto tcp and dst port 8333'`) compiled to a SQL
 * condition over the flow store's columns (flow_rows / the flows view: src_ip, dst_ip as
 * UHUGEINT, src_port, dst_port, proto, packets, bytes, rev_packets, rev_bytes, tcp_flags,
 * ip_version, src_asn, dst_asn).
 *
 * The filter is hostile input (CLI and HTTP API): it is tokenised and parsed here, every value is
 * turned into a number (addresses into 128-bit integers, CIDRs into integer ranges on the stored
 * address), and the SQL is built only from fixed column names, fixed operators and numbers that
 * this module printed. No byte of the filter text reaches the SQL. Anything outside the grammar is
 * an error value naming the position (0-based character offset) and what was expected — never a
 * DuckDB parser error.
 *
 * The grammar and its meaning follow nfdump 1.7 (src/lib/scanner.l, grammar.y): keywords are
 * case-insensitive, NOT binds tighter than AND, AND tighter than OR; a number may carry k/m/g/t
 * (powers of 1000) or be 0x hex; `flags` implies `proto tcp`; `port`, `host`, `net`, `as` without
 * src/dst mean either end.
 */
import { writeIp } from './record.js';

export interface FilterError {
  /** 0-based character offset in the filter text. */
  offset: number;
  /** What the parser wanted there. */
  expected: string;
  /** What it found ('end of filter' at the end). */
  found: string;
  message: string;
}

export type CompiledFilter = { ok: true; sql: string } | { ok: false; error: FilterError };

export interface CompileOptions {
  /** Prefix for every column, e.g. 'f.' where the flow relation is aliased (detections). */
  qualifier?: string;
}

/** Longest filter accepted: a bound on work and SQL size for text from the network. */
export const MAX_FILTER_LENGTH = 16_384;
/** Deepest nesting of parentheses / NOT accepted (recursion bound). */
const MAX_DEPTH = 64;

type TokKind = 'word' | 'op' | 'end';
interface Token {
  kind: TokKind;
  text: string;
  offset: number;
}

class FilterSyntaxError extends Error {
  constructor(
    readonly offset: number,
    readonly expected: string,
    readonly found: string,
  ) {
    super(`position ${offset}: expected ${expected}, found ${found}`);
  }
}

const WORD = /[A-Za-z0-9_:.-]/;

/** nfdump's scanner: words of [A-Za-z0-9_:.-], the operators below, '#' to end of line a comment. */
function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (WORD.test(c)) {
      const start = i;
      while (i < text.length && WORD.test(text[i])) i++;
      out.push({ kind: 'word', text: text.slice(start, i), offset: start });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (['&&', '||', '==', '>=', '<='].includes(two)) {
      out.push({ kind: 'op', text: two, offset: i });
      i += 2;
      continue;
    }
    if ('()[],/!=<>'.includes(c)) {
      out.push({ kind: 'op', text: c, offset: i });
      i++;
      continue;
    }
    throw new FilterSyntaxError(i, 'a keyword, number, address or operator', describeChar(c));
  }
  out.push({ kind: 'end', text: '', offset: text.length });
  return out;
}

function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code >= 0x21 && code <= 0x7e ? `'${c}'` : `character U+${code.toString(16).padStart(4, '0')}`;
}

function describe(t: Token): string {
  return t.kind === 'end' ? 'end of filter' : `'${t.text.length > 40 ? t.text.slice(0, 40) + '…' : t.text}'`;
}

type Dir = 'either' | 'src' | 'dst' | 'both';
type Cmp = '=' | '<' | '>' | '<=' | '>=';

const COMPARATORS: Record<string, Cmp> = {
  '=': '=',
  '==': '=',
  eq: '=',
  '>': '>',
  gt: '>',
  '<': '<',
  lt: '<',
  '>=': '>=',
  ge: '>=',
  '<=': '<=',
  le: '<=',
};

/** Protocol names nfdump knows and this compiler accepts (any number 0..255 is accepted too). */
export const PROTOCOL_NAMES: Record<string, number> = {
  icmp: 1,
  igmp: 2,
  ggp: 3,
  ipip: 4,
  tcp: 6,
  egp: 8,
  udp: 17,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  icmp6: 58,
  ospf: 89,
  pim: 103,
  sctp: 132,
};

const TCP_FLAG_BITS: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32 };

const IPV4_MAPPED = 0xffff_0000_0000n;
const ALL128 = (1n << 128n) - 1n;

class Parser {
  private p = 0;
  private depth = 0;

  constructor(
    private readonly toks: Token[],
    private readonly q: string,
  ) {}

  parse(): string {
    if (this.peek().kind === 'end') return 'TRUE'; // nfdump: an empty filter passes every flow
    const sql = this.orExpr();
    const t = this.peek();
    if (t.kind !== 'end')
      throw new FilterSyntaxError(t.offset, "'and', 'or' or the end of the filter", describe(t));
    return sql;
  }

  private peek(k = 0): Token {
    return this.toks[Math.min(this.p + k, this.toks.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.p++;
    return t;
  }

  private is(t: Token, ...words: string[]): boolean {
    return t.kind !== 'end' && words.includes(t.text.toLowerCase());
  }

  private expect(what: string, ...words: string[]): Token {
    const t = this.peek();
    if (!this.is(t, ...words)) throw new FilterSyntaxError(t.offset, what, describe(t));
    return this.next();
  }

  private orExpr(): string {
    return this.chain(() => this.andExpr(), 'OR', 'or', '||');
  }

  private andExpr(): string {
    return this.chain(() => this.notExpr(), 'AND', 'and', '&&');
  }

  /** operand (word operand)*: one level of nfdump's left-associative AND / OR. */
  private chain(operand: () => string, sql: 'AND' | 'OR', ...words: string[]): string {
    const parts = [operand()];
    while (this.is(this.peek(), ...words)) {
      this.next();
      parts.push(operand());
    }
    return parts.length === 1 ? parts[0] : `(${parts.join(` ${sql} `)})`;
  }

  private notExpr(): string {
    const t = this.peek();
    if (++this.depth > MAX_DEPTH)
      throw new FilterSyntaxError(
        t.offset,
        `at most ${MAX_DEPTH} nested parentheses or negations`,
        describe(t),
      );
    try {
      if (this.is(t, 'not', '!')) {
        this.next();
        // The flow columns are NOT NULL, so SQL's NOT is the filter's negation.
        return `(NOT ${this.notExpr()})`;
      }
      if (t.kind === 'op' && t.text === '(') {
        this.next();
        const inner = this.orExpr();
        this.expect("')'", ')');
        return inner;
      }
      return this.term();
    } finally {
      this.depth--;
    }
  }

  private col(name: string): string {
    return this.q + name;
  }

  private term(): string {
    const t = this.peek();
    if (this.is(t, 'any')) {
      this.next();
      return 'TRUE';
    }
    if (this.is(t, 'ipv4', 'inet')) {
      this.next();
      return `(${this.col('ip_version')} = 4)`;
    }
    if (this.is(t, 'ipv6', 'inet6')) {
      this.next();
      return `(${this.col('ip_version')} = 6)`;
    }
    if (this.is(t, 'proto')) {
      this.next();
      return `(${this.col('proto')} = ${this.protocol()})`;
    }
    if (this.is(t, 'flags')) {
      this.next();
      return this.flags();
    }
    if (this.is(t, 'in', 'out')) {
      this.next();
      const out = t.text.toLowerCase() === 'out';
      const what = this.expect(
        "'packets' or 'bytes' (in/out name the counter's direction)",
        'packets',
        'bytes',
      );
      return this.counter(what.text.toLowerCase() as 'packets' | 'bytes', out);
    }
    if (this.is(t, 'packets', 'bytes')) {
      this.next();
      return this.counter(t.text.toLowerCase() as 'packets' | 'bytes', false);
    }
    const dir = this.direction();
    const k = this.peek();
    if (this.is(k, 'host', 'ip')) {
      this.next();
      return this.hosts(dir);
    }
    if (this.is(k, 'net')) {
      this.next();
      return this.net(dir);
    }
    if (this.is(k, 'port')) {
      this.next();
      return this.numbered(dir, 'port', 65535);
    }
    if (this.is(k, 'as')) {
      this.next();
      return this.numbered(dir, 'asn', 0xffff_ffff);
    }
    throw new FilterSyntaxError(
      k.offset,
      dir === 'either'
        ? "a filter term: any, ipv4, ipv6, proto, flags, packets, bytes, [src|dst] host/net/port/as, 'not' or '('"
        : "'host', 'ip', 'net', 'port' or 'as' after src/dst",
      describe(k),
    );
  }

  /** src | dst | src or dst | src and dst | (nothing): which end(s) a term names. */
  private direction(): Dir {
    const t = this.peek();
    if (!this.is(t, 'src', 'dst')) return 'either';
    this.next();
    const first = t.text.toLowerCase() as 'src' | 'dst';
    const j = this.peek();
    const other = first === 'src' ? 'dst' : 'src';
    if (this.is(j, 'or', 'and') && this.is(this.peek(1), other)) {
      this.next();
      this.next();
      return j.text.toLowerCase() === 'or' ? 'either' : 'both';
    }
    return first;
  }

  /** A condition on the source and/or destination side, as `dir` asks. */
  private sides(dir: Dir, f: (side: 'src' | 'dst') => string): string {
    if (dir === 'src' || dir === 'dst') return f(dir);
    return `(${f('src')} ${dir === 'both' ? 'AND' : 'OR'} ${f('dst')})`;
  }

  private number(what: string, max: bigint): { value: bigint; tok: Token } {
    const t = this.peek();
    const v = t.kind === 'word' ? parseNumber(t.text) : null;
    if (v === null) throw new FilterSyntaxError(t.offset, what, describe(t));
    if (v > max) throw new FilterSyntaxError(t.offset, `${what} of at most ${max}`, describe(t));
    this.next();
    return { value: v, tok: t };
  }

  private comparator(): Cmp {
    const t = this.peek();
    const c = t.kind !== 'end' ? COMPARATORS[t.text.toLowerCase()] : undefined;
    if (c) this.next();
    return c ?? '=';
  }

  private protocol(): number {
    const t = this.peek();
    if (t.kind === 'word') {
      const named = PROTOCOL_NAMES[t.text.toLowerCase()];
      if (named !== undefined) {
        this.next();
        return named;
      }
    }
    const what = `a protocol number 0..255 or name (${Object.keys(PROTOCOL_NAMES).join(', ')})`;
    return Number(this.number(what, 255n).value);
  }

  /** flags ACRSPU… (all of them set) or flags [cmp] N; both imply proto tcp, as in nfdump. */
  private flags(): string {
    const tcp = `${this.col('proto')} = 6`;
    const t = this.peek();
    const asNumber = t.kind === 'op' || (t.kind === 'word' && parseNumber(t.text) !== null);
    if (asNumber) {
      const cmp = this.comparator();
      const { value } = this.number('a flags value 0..63', 63n);
      return `(${tcp} AND ${this.col('tcp_flags')} ${cmp} ${value})`;
    }
    if (t.kind !== 'word' || !/^[FSRPAUX]{1,7}$/.test(t.text) || new Set(t.text).size !== t.text.length)
      throw new FilterSyntaxError(
        t.offset,
        'TCP flags: each of F S R P A U (X for all) at most once, upper case, or a number',
        describe(t),
      );
    this.next();
    let mask = 0;
    for (const ch of t.text) mask = ch === 'X' ? 63 : mask | TCP_FLAG_BITS[ch];
    return `(${tcp} AND (${this.col('tcp_flags')} & ${mask}) = ${mask})`;
  }

  /** [in|out] packets/bytes [cmp] N: nfdump's input counters are the flow's forward ones. */
  private counter(what: 'packets' | 'bytes', out: boolean): string {
    const cmp = this.comparator();
    const { value } = this.number(`a ${what} count (digits, optionally k/m/g/t)`, (1n << 64n) - 1n);
    const column = out ? `rev_${what}` : what;
    return `(${this.col(column)} ${cmp} ${value})`;
  }

  /** port/as: [cmp] N or in [ N N , N ]. */
  private numbered(dir: Dir, kind: 'port' | 'asn', max: number): string {
    const what = kind === 'port' ? 'a port number 0..65535' : 'an AS number 0..4294967295';
    const column = (side: 'src' | 'dst') => this.col(`${side}_${kind}`);
    if (this.is(this.peek(), 'in')) {
      this.next();
      const list = this.list(() => this.number(what, BigInt(max)).value.toString());
      return this.sides(dir, (s) => `${column(s)} IN (${list.join(', ')})`);
    }
    const cmp = this.comparator();
    const { value } = this.number(what, BigInt(max));
    return this.sides(dir, (s) => `${column(s)} ${cmp} ${value}`);
  }

  /** '[' item (','? item)* ']' — nfdump's lists, space or comma separated, never empty. */
  private list<T>(item: () => T): T[] {
    this.expect("'[' to open a list", '[');
    const items: T[] = [item()];
    for (;;) {
      const t = this.peek();
      if (t.kind === 'op' && t.text === ']') {
        this.next();
        return items;
      }
      if (t.kind === 'op' && t.text === ',') this.next();
      if (items.length >= 4096) throw new FilterSyntaxError(t.offset, 'at most 4096 list items', describe(t));
      items.push(item());
    }
  }

  /** host A | host in [ A B/len … ]: exact addresses (and prefixes inside lists). */
  private hosts(dir: Dir): string {
    if (this.is(this.peek(), 'in')) {
      this.next();
      const ranges = this.list(() => this.prefixOrAddress());
      return this.sides(dir, (s) => `(${ranges.map((r) => this.range(s, r)).join(' OR ')})`);
    }
    const a = this.address();
    const slash = this.peek();
    if (slash.kind === 'op' && slash.text === '/')
      throw new FilterSyntaxError(
        slash.offset,
        "'and', 'or' or the end (a prefix needs 'net', not 'host')",
        "'/'",
      );
    return this.sides(dir, (s) => this.range(s, { version: a.version, lo: a.value, hi: a.value }));
  }

  /** net A/len | net A M (M a dotted IPv4 mask): host bits of A are cleared, as nfdump does. */
  private net(dir: Dir): string {
    const r = this.prefix(true);
    return this.sides(dir, (s) => this.range(s, r));
  }

  private prefixOrAddress(): AddrRange {
    return this.prefix(false);
  }

  private prefix(required: boolean): AddrRange {
    const a = this.address();
    const bits = a.version === 4 ? 32 : 128;
    const t = this.peek();
    let len: number;
    if (t.kind === 'op' && t.text === '/') {
      this.next();
      len = Number(this.number(`a prefix length 0..${bits}`, BigInt(bits)).value);
    } else if (required && a.version === 4 && t.kind === 'word' && /^\d+\.\d+\.\d+\.\d+$/.test(t.text)) {
      const m = parseAddress(t.text);
      if (!m) throw new FilterSyntaxError(t.offset, 'an IPv4 netmask', describe(t));
      this.next();
      const inv = ~Number(m.value) >>> 0;
      // A contiguous mask is a prefix (a range test); nfdump also takes others (255.0.255.0).
      if (((inv + 1) & inv) !== 0)
        return { version: 4, lo: a.value & m.value, hi: a.value & m.value, mask: m.value };
      len = 32 - (inv === 0 ? 0 : Math.log2(inv + 1));
    } else if (required) {
      throw new FilterSyntaxError(
        t.offset,
        a.version === 4 ? "'/' and a prefix length, or a dotted netmask" : "'/' and a prefix length",
        describe(t),
      );
    } else {
      len = bits;
    }
    const hostBits = BigInt(bits - len);
    const span = (1n << hostBits) - 1n;
    const net = a.value & ~span;
    return { version: a.version, lo: net, hi: net | span };
  }

  private address(): { version: 4 | 6; value: bigint } {
    const t = this.peek();
    const a = t.kind === 'word' ? parseAddress(t.text) : null;
    if (!a)
      throw new FilterSyntaxError(
        t.offset,
        'an IPv4 or IPv6 address (host names are not looked up)',
        describe(t),
      );
    this.next();
    return a;
  }

  /** The stored-address range test: IPv4 lives at ::ffff:a.b.c.d in the 128-bit column. */
  private range(side: 'src' | 'dst', r: AddrRange): string {
    const column = this.col(`${side}_ip`);
    const base = r.version === 4 ? IPV4_MAPPED : 0n;
    const lo = base + r.lo;
    const hi = base + r.hi;
    const lit = (v: bigint) => `'${(v & ALL128).toString()}'::UHUGEINT`;
    if (r.mask !== undefined)
      return `(${this.col('ip_version')} = 4 AND (${column} & ${lit(IPV4_MAPPED | r.mask)}) = ${lit(lo)})`;
    const test = lo === hi ? `${column} = ${lit(lo)}` : `${column} BETWEEN ${lit(lo)} AND ${lit(hi)}`;
    return `(${this.col('ip_version')} = ${r.version} AND ${test})`;
  }
}

interface AddrRange {
  version: 4 | 6;
  /** A non-contiguous IPv4 netmask: the test is (address & mask) = lo. */
  mask?: bigint;
  /** Within the family: 32-bit for IPv4, 128-bit for IPv6. */
  lo: bigint;
  hi: bigint;
}

/** nfdump's numbers: decimal digits with an optional k/m/g/t (x1000 each), or 0x hex. */
export function parseNumber(text: string): bigint | null {
  if (/^0[xX][0-9A-Fa-f]{1,16}$/.test(text)) return BigInt(text);
  const m = /^(\d{1,20})([kKmMgGtT]?)$/.exec(text);
  if (!m) return null;
  const scale = { '': 1n, k: 1000n, m: 1000_000n, g: 1000_000_000n, t: 1000_000_000_000n }[
    m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'
  ];
  return BigInt(m[1]) * scale;
}

/** An address as text → family and value (32-bit IPv4, 128-bit IPv6), or null if not one. */
export function parseAddress(text: string): { version: 4 | 6; value: bigint } | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || text.length > 45) return null;
  const b = new Uint8Array(16);
  let version: 4 | 6;
  try {
    version = writeIp(b, 0, text);
  } catch {
    return null;
  }
  // writeIp accepts some forms leniently (e.g. '1.2.3.04'); nfdump's inet_pton does not.
  if (
    version === 4 &&
    !/^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(text)
  )
    return null;
  let v = 0n;
  for (let i = 0; i < (version === 4 ? 4 : 16); i++) v = (v << 8n) | BigInt(b[i]);
  return { version, value: v };
}

/** Compile an nfdump filter to a SQL condition over the flow columns; errors are values. */
export function compileNfdumpFilter(text: string, opts: CompileOptions = {}): CompiledFilter {
  const q = opts.qualifier ?? '';
  if (q !== '' && !/^[a-z_][a-z0-9_]*\.$/.test(q))
    throw new Error(`bad column qualifier ${JSON.stringify(q)}`);
  try {
    if (text.length > MAX_FILTER_LENGTH)
      throw new FilterSyntaxError(
        MAX_FILTER_LENGTH,
        `a filter of at most ${MAX_FILTER_LENGTH} characters`,
        'more',
      );
    return { ok: true, sql: new Parser(tokenize(text), q).parse() };
  } catch (e) {
    if (!(e instanceof FilterSyntaxError)) throw e;
    return {
      ok: false,
      error: { offset: e.offset, expected: e.expected, found: e.found, message: e.message },
    };
  }
}

/** `--filter`'s SQL (undefined without one); a bad filter throws, the message pointing at the spot. */
export function filterSql(filter: string | undefined, opts: CompileOptions = {}): string | undefined {
  if (filter === undefined) return undefined;
  const c = compileNfdumpFilter(filter, opts);
  if (!c.ok) throw new Error(`--filter: ${c.error.message}\n  ${filter}\n  ${' '.repeat(c.error.offset)}^`);
  return c.sql;
}

/**
 * The one condition a command runs: the compiled --filter and the raw SQL --where, joined by AND
 * (either may be absent). Throws an Error whose message names the filter position on a bad filter.
 */
export function flowCondition(
  filter: string | undefined,
  where: string | undefined,
  opts: CompileOptions = {},
): string | undefined {
  const parts: string[] = [];
  const f = filterSql(filter, opts);
  if (f) parts.push(f);
  if (where) parts.push(`(${where})`);
  return parts.length ? parts.join(' AND ') : undefined;
}
