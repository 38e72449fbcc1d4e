/**
 * Zeek's conn.log, in its two shapes: the TSV log (`#separator \x09`, `#fields`/`#types`
 * header lines, `-` for unset fields, `#close` at the end; a log may hold several header
 * blocks) and JSON lines (one object per connection, unset fields left out; `ts` as epoch
 * seconds or an ISO 8601 string).
 *
 * Mapping: originator → src, responder → dst; orig_pkts/orig_ip_bytes → packets/bytes and
 * resp_pkts/resp_ip_bytes → revPackets/revBytes (Zeek's IP-layer byte counts, the ones NetFlow
 * uses; orig_bytes/resp_bytes are payload only); first = ts, last = ts + duration. For ICMP,
 * Zeek puts the type in id.orig_p and the code in id.resp_p; they become NetFlow's form (source
 * port 0, destination port type·256 + code) like every other source. Proto 'icmp' over IPv6 is
 * ICMPv6 (58).
 * TCP flags are derived (see `zeekTcpFlags`).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Diagnostics } from '../flow/diagnostics.js';
import { registerFormat } from '../flow/formats.js';
import { FlowBatch, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../flow/record.js';
import { writeAddress } from './nfdump-csv.js';
import type { FlowSource, FlowSourceOptions } from '../flow/source.js';
import { MAX_DATE_MS } from '../flow/plausible-time.js';

/** conn.log's fields in Zeek's own order (Zeek 4–7 defaults, without optional packages). */
export const ZEEK_CONN_FIELDS = [
  'ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'service', 'duration', 'orig_bytes',
  'resp_bytes', 'conn_state', 'local_orig', 'local_resp', 'missed_bytes', 'history', 'orig_pkts', 'orig_ip_bytes',
  'resp_pkts', 'resp_ip_bytes', 'tunnel_parents',
]; // prettier-ignore

export const ZEEK_CONN_TYPES = [
  'time', 'string', 'addr', 'port', 'addr', 'port', 'enum', 'string', 'interval', 'count', 'count', 'string', 'bool',
  'bool', 'count', 'string', 'count', 'count', 'count', 'count', 'set[string]',
]; // prettier-ignore

const HISTORY_FLAGS: Record<string, number> = {
  s: TCP_SYN,
  h: TCP_SYN | TCP_ACK,
  a: TCP_ACK,
  d: TCP_ACK | TCP_PSH,
  f: TCP_FIN,
  r: TCP_RST,
};

/**
 * TCP flags of a connection from Zeek's `history` (upper case: originator, lower case:
 * responder): S → SYN, H → SYN+ACK, A → ACK, D → ACK+PSH (data segments after the handshake
 * carry ACK; PSH is what stacks set on them), F → FIN, R → RST. Without a history, from
 * `conn_state`: S0/S1/SH/SHR/OTH with a SYN seen → SYN; REJ → SYN+RST; RSTO/RSTR/RSTOS0/RSTRH
 * → RST (+SYN when a SYN was seen); SF → SYN+ACK+FIN; S2/S3 → SYN+ACK+FIN; others 0.
 */
export function zeekTcpFlags(history: string | undefined, connState: string | undefined): number {
  if (history) {
    let v = 0;
    for (const ch of history.toLowerCase()) v |= HISTORY_FLAGS[ch] ?? 0;
    return v;
  }
  switch (connState) {
    case 'S0':
    case 'S1':
    case 'SH':
      return TCP_SYN;
    case 'REJ':
    case 'RSTOS0':
      return TCP_SYN | TCP_RST;
    case 'RSTO':
    case 'RSTR':
    case 'RSTRH':
      return TCP_SYN | TCP_ACK | TCP_RST;
    case 'SF':
    case 'S2':
    case 'S3':
      return TCP_SYN | TCP_ACK | TCP_FIN;
    default:
      return 0;
  }
}

export function sniffZeekTsv(head: Buffer): boolean {
  const t = head.toString('latin1', 0, Math.min(head.length, 4096));
  return t.startsWith('#separator ') || (t.startsWith('#fields\t') && t.includes('id.orig_h'));
}

export function sniffZeekJson(head: Buffer): boolean {
  const t = head.toString('utf8', 0, Math.min(head.length, 4096)).trimStart();
  return t.startsWith('{') && t.split('\n', 1)[0].includes('"id.orig_h"');
}

/** One connection in plain values; unset fields undefined. */
interface ZeekConn {
  ts: number;
  origH: string;
  origP: number;
  respH: string;
  respP: number;
  proto: string;
  duration: number | undefined;
  connState: string | undefined;
  history: string | undefined;
  origPkts: number | undefined;
  origIpBytes: number | undefined;
  respPkts: number | undefined;
  respIpBytes: number | undefined;
}

const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

/** Decimal seconds → milliseconds without binary float drift past the microsecond. */
function secondsToMs(s: string): number {
  if (!/^-?[0-9]+(\.[0-9]*)?$/.test(s)) return NaN;
  const dot = s.indexOf('.');
  if (dot < 0) return Number(s) * 1000;
  const frac = (s.slice(dot + 1) + '000000').slice(0, 6);
  const whole = Number(s.slice(0, dot));
  const micros = Number(frac);
  return s.startsWith('-') ? whole * 1000 - micros / 1000 : whole * 1000 + micros / 1000;
}

/**
 * Times must fit a JS Date (±100,000,000 days): the store's views turn first_ms/last_ms into
 * TIMESTAMPs, and one row beyond DuckDB's range makes every query over the flows fail.
 */

class ZeekBatcher {
  batch: FlowBatch;
  constructor(
    readonly path: string,
    readonly size: number,
    readonly d: Diagnostics,
  ) {
    this.batch = new FlowBatch(size, path);
  }

  problem(line: number, kind: string, message: string): void {
    this.d.problem({ source: this.path, offset: line, unit: 'line', kind, message });
  }

  /** Append one connection; returns false (and reports why) when it cannot be used. */
  add(c: ZeekConn, line: number): boolean {
    const bad = !(Math.abs(c.ts) <= MAX_DATE_MS)
      ? 'bad or missing ts'
      : !isPort(c.origP) || !isPort(c.respP)
        ? 'bad or missing id.orig_p / id.resp_p'
        : PROTO[c.proto] === undefined && !/^[0-9]+$/.test(c.proto)
          ? `unknown proto ${JSON.stringify(c.proto)}`
          : // Infinity passes `>= 0`: a duration must also leave ts + duration a usable time.
            c.duration !== undefined && !(c.duration >= 0 && c.ts + c.duration <= MAX_DATE_MS)
            ? 'bad duration'
            : [c.origPkts, c.origIpBytes, c.respPkts, c.respIpBytes].some(
                  (n) => n !== undefined && !isCount(n),
                )
              ? 'bad packet or byte count'
              : '';
    if (bad) {
      this.problem(line, 'bad-row', bad);
      return false;
    }
    const b = this.batch;
    const i = b.push();
    let v: 4 | 6;
    try {
      v = writeAddress(b.src, i * 16, c.origH);
      if (writeAddress(b.dst, i * 16, c.respH) !== v)
        throw new Error(`address families differ: ${c.origH} ${c.respH}`);
    } catch (e) {
      b.length--;
      this.problem(line, 'bad-row', e instanceof Error ? e.message : String(e));
      return false;
    }
    let proto = PROTO[c.proto] ?? Number(c.proto);
    if (proto === 1 && v === 6) proto = 58;
    const icmp = proto === 1 || proto === 58;
    if (icmp && (c.origP > 255 || c.respP > 255)) {
      b.length--;
      this.problem(line, 'bad-row', `ICMP type/code out of range: ${c.origP}/${c.respP}`);
      return false;
    }
    b.ipVersion[i] = v;
    b.firstMs[i] = c.ts;
    b.lastMs[i] = c.ts + (c.duration ?? 0);
    // ICMP as NetFlow and nfdump carry it: source port 0, destination port type << 8 | code.
    b.srcPort[i] = icmp ? 0 : c.origP;
    b.dstPort[i] = icmp ? (c.origP << 8) | c.respP : c.respP;
    b.proto[i] = proto;
    b.packets[i] = c.origPkts ?? 0;
    b.bytes[i] = c.origIpBytes ?? 0;
    b.revPackets[i] = c.respPkts ?? 0;
    b.revBytes[i] = c.respIpBytes ?? 0;
    b.tcpFlags[i] = proto === 6 ? zeekTcpFlags(c.history, c.connState) : 0;
    b.position[i] = line;
    return true;
  }

  /** The full batch to hand over (a fresh one takes its place), or undefined. */
  take(force = false): FlowBatch | undefined {
    if (this.batch.length === 0 || (!force && !this.batch.full)) return undefined;
    const out = this.batch;
    this.batch = new FlowBatch(this.size, this.path);
    return out;
  }
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

function isCount(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

function linesOf(path: string, opts: FlowSourceOptions) {
  const input = createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let next = 0;
  return {
    lines,
    progress(end = false) {
      if (end || input.bytesRead >= next) {
        opts.onProgress?.(input.bytesRead);
        next = input.bytesRead + (1 << 20);
      }
    },
  };
}

/** Unescape Zeek's `\xHH` escapes (used for the separator and for odd bytes in strings). */
function unescapeZeek(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Field k (in the reader's own order) of a TSV row, undefined when absent or unset. */
function field(f: string[], idx: number[], k: number, unset: string): string | undefined {
  const j = idx[k];
  return j < 0 || f[j] === unset ? undefined : f[j];
}

function countField(f: string[], idx: number[], k: number, unset: string): number | undefined {
  const s = field(f, idx, k, unset);
  return s === undefined ? undefined : /^[0-9]+$/.test(s) ? Number(s) : NaN;
}

export function readZeekTsv(path: string, opts: FlowSourceOptions): FlowSource {
  return { [Symbol.asyncIterator]: () => zeekTsvBatches(path, opts) };
}

async function* zeekTsvBatches(path: string, opts: FlowSourceOptions): AsyncGenerator<FlowBatch> {
  const d = opts.diagnostics;
  const out = new ZeekBatcher(path, opts.batchSize ?? 4096, d);
  const src = linesOf(path, opts);
  let sep = '\t';
  let unset = '-';
  let idx: number[] | undefined;
  let nFields = 0;
  let rejected = false;
  let lineNo = 0;
  const needed = ['ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto'];
  const names = [
    'ts', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'duration', 'conn_state', 'history',
    'orig_pkts', 'orig_ip_bytes', 'resp_pkts', 'resp_ip_bytes',
  ]; // prettier-ignore
  for await (const line of src.lines) {
    lineNo++;
    src.progress();
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line.startsWith('#separator ')) sep = unescapeZeek(line.slice('#separator '.length));
      else if (line.startsWith(`#unset_field${sep}`)) unset = line.slice(`#unset_field${sep}`.length);
      else if (line.startsWith(`#fields${sep}`)) {
        const fields = line.split(sep).slice(1);
        const missing = needed.filter((n) => !fields.includes(n));
        if (missing.length) {
          out.problem(
            lineNo,
            'bad-header',
            `#fields lacks ${missing.join(', ')} (not a conn.log?); its rows are skipped`,
          );
          idx = undefined;
          rejected = true;
        } else {
          rejected = false;
          idx = names.map((n) => fields.indexOf(n));
          nFields = fields.length;
        }
      }
      continue;
    }
    d.add('records.read');
    if (!idx) {
      // Rows under a rejected header were reported with it; rows before any header each are.
      if (!rejected) out.problem(lineNo, 'bad-row', 'data line before a #fields header');
      d.add('records.skipped');
      continue;
    }
    const f = line.split(sep);
    if (f.length !== nFields) {
      out.problem(lineNo, 'bad-row', `${f.length} fields, #fields names ${nFields}`);
      d.add('records.skipped');
      continue;
    }
    const dur = field(f, idx, 6, unset);
    const conn: ZeekConn = {
      ts: secondsToMs(field(f, idx, 0, unset) ?? ''),
      origH: field(f, idx, 1, unset) ?? '',
      origP: countField(f, idx, 2, unset) ?? NaN,
      respH: field(f, idx, 3, unset) ?? '',
      respP: countField(f, idx, 4, unset) ?? NaN,
      proto: field(f, idx, 5, unset) ?? '',
      duration: dur === undefined ? undefined : secondsToMs(dur),
      connState: field(f, idx, 7, unset),
      history: field(f, idx, 8, unset),
      origPkts: countField(f, idx, 9, unset),
      origIpBytes: countField(f, idx, 10, unset),
      respPkts: countField(f, idx, 11, unset),
      respIpBytes: countField(f, idx, 12, unset),
    };
    if (out.add(conn, lineNo)) d.add('records.kept');
    else d.add('records.skipped');
    const full = out.take();
    if (full) yield full;
  }
  src.progress(true);
  const last = out.take(true);
  if (last) yield last;
}

export function readZeekJson(path: string, opts: FlowSourceOptions): FlowSource {
  return { [Symbol.asyncIterator]: () => zeekJsonBatches(path, opts) };
}

async function* zeekJsonBatches(path: string, opts: FlowSourceOptions): AsyncGenerator<FlowBatch> {
  const d = opts.diagnostics;
  const out = new ZeekBatcher(path, opts.batchSize ?? 4096, d);
  const src = linesOf(path, opts);
  let lineNo = 0;
  for await (const line of src.lines) {
    lineNo++;
    src.progress();
    if (line.trim() === '') continue;
    d.add('records.read');
    let o: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      o = v as Record<string, unknown>;
    } catch (e) {
      out.problem(lineNo, 'bad-json', e instanceof Error ? e.message : String(e));
      d.add('records.skipped');
      continue;
    }
    const count = (k: string) => {
      const v = o[k];
      return v === undefined || v === null ? undefined : typeof v === 'number' ? v : NaN;
    };
    const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
    const ts = o.ts;
    const dur = count('duration');
    const conn: ZeekConn = {
      ts: typeof ts === 'number' ? Math.round(ts * 1e6) / 1e3 : typeof ts === 'string' ? Date.parse(ts) : NaN,
      origH: str('id.orig_h') ?? '',
      origP: count('id.orig_p') ?? NaN,
      respH: str('id.resp_h') ?? '',
      respP: count('id.resp_p') ?? NaN,
      proto: str('proto') ?? '',
      duration: dur === undefined ? undefined : Math.round(dur * 1e6) / 1e3,
      connState: str('conn_state'),
      history: str('history'),
      origPkts: count('orig_pkts'),
      origIpBytes: count('orig_ip_bytes'),
      respPkts: count('resp_pkts'),
      respIpBytes: count('resp_ip_bytes'),
    };
    if (out.add(conn, lineNo)) d.add('records.kept');
    else d.add('records.skipped');
    const full = out.take();
    if (full) yield full;
  }
  src.progress(true);
  const last = out.take(true);
  if (last) yield last;
}

registerFormat({
  kind: 'zeek-tsv',
  description: 'Zeek conn.log (TSV with #fields header)',
  sniff: sniffZeekTsv,
  read: readZeekTsv,
});
registerFormat({
  kind: 'zeek-json',
  description: 'Zeek conn.log (JSON lines)',
  sniff: sniffZeekJson,
  read: readZeekJson,
});
