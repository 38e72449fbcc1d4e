/**
 * nfdump's CSV output (`nfdump -r FILE -o csv`, nfdump 1.7.x): a header line
 * `ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,...`, one line per flow, then a
 * `Summary` block (`flows,bytes,packets,...` and its values) that this reader checks against
 * the rows it read. `-q` output (no header, no summary) is read with the 1.7 column layout.
 *
 * Times: nfdump prints `ts`/`te` to the second, in the local time of the machine that ran it
 * (run it with TZ=UTC; this reader takes them as UTC), and the duration `td` to the millisecond.
 * The first-packet time is taken as max(ts, te − td) and the last as first + td: exact duration,
 * both ends within one second of the binary file's times. Fractional seconds, when a build
 * prints them, are used as they are.
 */
import { MAX_DATE_MS } from '../flow/plausible-time.js';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { registerFormat } from '../flow/formats.js';
import { FlowBatch, writeIp } from '../flow/record.js';
import type { FlowSource, FlowSourceOptions } from '../flow/source.js';

/** The columns of `nfdump -o csv` in 1.7.x, used when the file has no header line (`-q`). */
export const NFDUMP_CSV_COLUMNS =
  'ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,mpls10,cl,sl,al,ra,eng,exid,tr'.split(
    ',',
  );

const REQUIRED = ['ts', 'te', 'td', 'sa', 'da', 'sp', 'dp', 'pr', 'flg', 'ipkt', 'ibyt'] as const;

/** nfdump's protocol names (its protoList) for the protocols seen in practice; others print as numbers. */
const PROTO_BY_NAME: Record<string, number> = {
  ICMP: 1, IGMP: 2, GGP: 3, IPIP: 4, ST: 5, TCP: 6, EGP: 8, UDP: 17, DCCP: 33, IPv6: 41, Rte6: 43, Frag6: 44,
  RSVP: 46, GRE: 47, ESP: 50, AH: 51, ICMP6: 58, NOHE6: 59, OPTS6: 60, EIGRP: 88, OSPF: 89, ETHIP: 97, ENCAP: 98,
  PIM: 103, IPcmp: 108, VRRP: 112, L2TP: 115, ISIS4: 124, SCTP: 132, 'UDP-L': 136, MPLS: 137,
}; // prettier-ignore

/** nfdump's flag string, most significant first: C E U A P R S F ('.' when clear). */
const FLAG_LETTERS = 'CEUAPRSF';

/**
 * writeIp with a fast path for dotted quads: text readers call it twice per row, and the
 * general parser (split + Number per part) dominated their profile.
 */
export function writeAddress(buf: Uint8Array, off: number, text: string): 4 | 6 {
  const n = text.length;
  if (n >= 7 && n <= 15) {
    let part = 0;
    let digits = 0;
    let k = 0;
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      const c = text.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        part = part * 10 + (c - 48);
        ok = ++digits <= 3 && part <= 255;
      } else if (c === 46 && digits > 0 && k < 3) {
        buf[off + k++] = part;
        part = 0;
        digits = 0;
      } else {
        ok = false;
      }
    }
    if (ok && k === 3 && digits > 0) {
      buf[off + 3] = part;
      buf.fill(0, off + 4, off + 16);
      return 4;
    }
  }
  return writeIp(buf, off, text);
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d+)?$/;

/** "YYYY-MM-DD hh:mm:ss[.fff]" as UTC milliseconds, NaN when malformed. */
export function parseNfdumpTime(s: string): number {
  const m = TIME_RE.exec(s);
  if (!m) return NaN;
  if (+m[2] < 1 || +m[2] > 12 || +m[3] < 1 || +m[3] > 31 || +m[4] > 23 || +m[5] > 59 || +m[6] > 60)
    return NaN;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return m[7] ? ms + Math.round(Number(m[7]) * 1000) : ms;
}

export function parseNfdumpFlags(s: string): number {
  if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s, 16) & 0xff;
  if (s.length !== 8) return NaN;
  let v = 0;
  for (let k = 0; k < 8; k++) {
    const c = s[k];
    if (c === FLAG_LETTERS[k]) v |= 0x80 >> k;
    else if (c !== '.') return NaN;
  }
  return v;
}

export function parseNfdumpProto(s: string): number {
  if (/^[0-9]+$/.test(s)) return Number(s) <= 255 ? Number(s) : NaN;
  return PROTO_BY_NAME[s] ?? NaN;
}

const HEADER_PREFIX = 'ts,te,td,sa,da,sp,dp,pr,';
const ROW_RE =
  /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?,\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?,[0-9.]+,[0-9a-fA-F.:]+,[0-9a-fA-F.:]+,/;

export function sniffNfdumpCsv(head: Buffer): boolean {
  const text = head.toString('latin1', 0, Math.min(head.length, 4096));
  const first = text.split('\n', 1)[0].replace(/\r$/, '');
  return first.startsWith(HEADER_PREFIX) || ROW_RE.test(first);
}

export function readNfdumpCsv(path: string, opts: FlowSourceOptions): FlowSource {
  return { [Symbol.asyncIterator]: () => nfdumpCsvBatches(path, opts) };
}

async function* nfdumpCsvBatches(path: string, opts: FlowSourceOptions): AsyncGenerator<FlowBatch> {
  const d = opts.diagnostics;
  const size = opts.batchSize ?? 4096;
  const input = createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let batch = new FlowBatch(size, path);
  let col: Record<string, number> | undefined;
  let nCols = 0;
  let lastTsText = '';
  let lastTs = NaN;
  let lastTeText = '';
  let lastTe = NaN;
  let lineNo = 0;
  let rows = 0;
  let summary: 'none' | 'title' | 'header' | 'done' = 'none';
  let summaryCols: string[] = [];
  let stopped = false;
  const problem = (kind: string, message: string) =>
    d.problem({ source: path, offset: lineNo, unit: 'line', kind, message });
  let nextProgress = 0;

  for await (const line of lines) {
    lineNo++;
    if (input.bytesRead >= nextProgress) {
      opts.onProgress?.(input.bytesRead);
      nextProgress = input.bytesRead + (1 << 20);
    }
    if (line === '') continue;
    // Outputs of several nfdump runs concatenated: each header starts a new block with its own summary.
    if (line.startsWith(HEADER_PREFIX) && (col !== undefined || summary !== 'none')) {
      col = undefined;
      summary = 'none';
      rows = 0;
    }
    if (summary !== 'none') {
      if (summary === 'title') {
        summaryCols = line.split(',');
        summary = 'header';
      } else if (summary === 'header') {
        const v = line.split(',');
        const flows = Number(v[summaryCols.indexOf('flows')]);
        if (Number.isFinite(flows)) {
          d.add('summary.flows', flows);
          if (flows !== rows)
            problem('summary-mismatch', `nfdump's summary says ${flows} flows, ${rows} rows were read`);
        }
        summary = 'done';
      } else {
        problem('trailing-text', `unexpected line after the summary: ${clip(line)}`);
      }
      continue;
    }
    if (line === 'Summary') {
      summary = 'title';
      continue;
    }
    if (line === 'No matching flows') continue;
    if (col === undefined) {
      const names = line.startsWith(HEADER_PREFIX) ? line.split(',') : NFDUMP_CSV_COLUMNS;
      const missing = REQUIRED.filter((c) => !names.includes(c));
      if (missing.length) {
        problem('bad-header', `header lacks ${missing.join(', ')}: ${clip(line)}`);
        // Reading stops here, but the rows kept before this header still go downstream.
        stopped = true;
        break;
      }
      col = Object.fromEntries(names.map((n, i) => [n, i]));
      nCols = names.length;
      if (names !== NFDUMP_CSV_COLUMNS) continue;
    }
    d.add('records.read');
    rows++;
    const f = line.split(',');
    const c = col;
    if (f.length !== nCols) {
      problem('bad-row', `${f.length} fields, the header names ${nCols}: ${clip(line)}`);
      d.add('records.skipped');
      continue;
    }
    // Rows come in time order, so the same second repeats: parse each distinct text once.
    if (f[c.ts] !== lastTsText) {
      lastTsText = f[c.ts];
      lastTs = parseNfdumpTime(lastTsText);
    }
    if (f[c.te] !== lastTeText) {
      lastTeText = f[c.te];
      lastTe = parseNfdumpTime(lastTeText);
    }
    const ts = lastTs;
    const te = lastTe;
    const td = Number(f[c.td]);
    const proto = parseNfdumpProto(f[c.pr]);
    const flags = parseNfdumpFlags(f[c.flg]);
    const sp = Number(f[c.sp]);
    const dp = Number(f[c.dp]);
    const ipkt = Number(f[c.ipkt]);
    const ibyt = Number(f[c.ibyt]);
    const opkt = c.opkt === undefined ? 0 : Number(f[c.opkt]);
    const obyt = c.obyt === undefined ? 0 : Number(f[c.obyt]);
    const bad =
      f[c.td] === '' || f[c.sp] === '' || f[c.dp] === '' || f[c.ipkt] === '' || f[c.ibyt] === ''
        ? `empty field in ${clip(line)}`
        : Number.isNaN(ts) || Number.isNaN(te)
          ? `bad time ${JSON.stringify(f[c.ts])} / ${JSON.stringify(f[c.te])}`
          : // "1e999" is a Number (Infinity) and >= 0: the duration must be finite too.
            !(td >= 0 && Number.isFinite(td))
            ? `bad duration ${JSON.stringify(f[c.td])}`
            : Number.isNaN(proto)
              ? `unknown protocol ${JSON.stringify(f[c.pr])}`
              : !isPort(sp) || !isPort(dp)
                ? `bad port ${JSON.stringify(f[c.sp])} / ${JSON.stringify(f[c.dp])}`
                : !isCount(ipkt) || !isCount(ibyt) || !isCount(opkt) || !isCount(obyt)
                  ? `bad counter in ${clip(line)}`
                  : Number.isNaN(flags)
                    ? `bad TCP flags ${JSON.stringify(f[c.flg])}`
                    : '';
    if (bad) {
      problem('bad-row', bad);
      d.add('records.skipped');
      continue;
    }
    const i = batch.push();
    let v: number;
    try {
      v = writeAddress(batch.src, i * 16, f[c.sa]);
      if (writeAddress(batch.dst, i * 16, f[c.da]) !== v)
        throw new Error(`address families differ: ${f[c.sa]} ${f[c.da]}`);
    } catch (e) {
      batch.length--;
      problem('bad-row', e instanceof Error ? e.message : String(e));
      d.add('records.skipped');
      continue;
    }
    const durMs = Math.round(td * 1000);
    const first = Math.max(ts, te - durMs);
    // A finite but huge duration ends the flow past any date (a Date, and the store's time views,
    // stop at ±8.64e15 ms): a bad row, as the binary readers treat such times.
    if (!(Math.abs(first) <= MAX_DATE_MS && Math.abs(first + durMs) <= MAX_DATE_MS)) {
      batch.length--;
      problem('bad-row', `duration ${JSON.stringify(f[c.td])} s ends the flow beyond any date`);
      d.add('records.skipped');
      continue;
    }
    batch.ipVersion[i] = v;
    batch.firstMs[i] = first;
    batch.lastMs[i] = first + durMs;
    batch.srcPort[i] = sp;
    batch.dstPort[i] = dp;
    batch.proto[i] = proto;
    batch.tcpFlags[i] = flags;
    batch.packets[i] = ipkt;
    batch.bytes[i] = ibyt;
    batch.revPackets[i] = opkt;
    batch.revBytes[i] = obyt;
    batch.position[i] = lineNo;
    const ra = c.ra === undefined ? undefined : f[c.ra];
    if (ra && ra !== '0.0.0.0' && ra !== '::') batch.exporterIdx[i] = batch.exporterIndex(ra);
    d.add('records.kept');
    if (batch.full) {
      yield batch;
      batch = new FlowBatch(size, path);
    }
  }
  opts.onProgress?.(input.bytesRead);
  if (!stopped && col === undefined && lineNo > 0 && summary === 'none')
    problem('bad-header', 'no nfdump CSV header or rows found');
  if (batch.length) yield batch;
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}

function isCount(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

function clip(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}

registerFormat({
  kind: 'nfdump-csv',
  description: "nfdump's CSV output (nfdump -r FILE -o csv)",
  sniff: sniffNfdumpCsv,
  read: readNfdumpCsv,
});
