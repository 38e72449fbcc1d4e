/**
 * Features of one (client, server, server port) over a time window, computed the same way from
 * every kind of flow record: pcap-derived biflows (one per connection, cut at the flow table's
 * timeouts), NetFlow v5/v9/IPFIX (one-way or biflow, cut at an exporter's active timeout, sampled)
 * and Zeek conn.log (one row per connection). Records are folded into connections by the client
 * port, so how an exporter cut a session (one record or thirty) does not change the features;
 * counters are scaled by the sampling rate. Nothing here reads payload.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type FlowBatch } from '../../flow/record.js';

/** Feature names in model order (docs/detection-rules.md explains each). */
export const FEATURE_NAMES = [
  'spanMinutesLog',
  'connectionsLog',
  'connectionsPerHourLog',
  'packetsPerMinuteLog',
  'upBytesPerPacket',
  'downBytesPerPacket',
  'downUpByteRatioLog',
  'upPacketShare',
  'packetsPerConnectionLog',
  'connectionSecondsLog',
  'connectionStartCv',
  'dutyCycle',
  'synShare',
  'finShare',
  'rstShare',
  'ackPushShare',
  'upBytesPerMinuteLog',
  'downBytesPerMinuteLog',
  'recordCountDispersion',
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export const FEATURE_COUNT = FEATURE_NAMES.length;

/** How a row is oriented: which end is the client and whether the row runs client → server. */
export interface Orientation {
  key: string;
  /** The row's forward direction runs client → server. */
  up: boolean;
  clientPort: number;
}

/**
 * Client = the end with the higher port (ephemeral ports are the high ones), for every kind of
 * record: exporters orient biflows differently (softflowd's IPFIX biflows often start at the
 * server), so trusting a record's source would split one session into two groups and make the
 * same session look different in pcap and in NetFlow. Equal ports: a biflow's source, or for
 * one-way records the lower address, so both directions still meet in one group.
 */
export function orient(b: FlowBatch, i: number): Orientation {
  const sp = b.srcPort[i];
  const dp = b.dstPort[i];
  const up = clientIsSource(b, i);
  const client = up ? b.srcText(i) : b.dstText(i);
  const server = up ? b.dstText(i) : b.srcText(i);
  return { key: `${client} -> ${server}:${up ? dp : sp}`, up, clientPort: up ? sp : dp };
}

/** Whether row `i`'s client (as orient() decides it) is its source. */
export function clientIsSource(b: FlowBatch, i: number): boolean {
  const sp = b.srcPort[i];
  const dp = b.dstPort[i];
  if (sp !== dp) return sp > dp;
  if (b.revPackets[i] > 0) return true;
  return b.srcText(i) <= b.dstText(i);
}

/** The server port of a group key (`client -> server:port`, as orient() writes it). */
export function serverPortOf(key: string): number {
  return Number(key.slice(key.lastIndexOf(':') + 1));
}

/** Numbers per record in a `RecordLog` row. */
export const STRIDE = 9;
const T0 = 0;
const T1 = 1;
const UP_PK = 2;
const UP_BY = 3;
const DN_PK = 4;
const DN_BY = 5;
const FLAGS = 6;
const CPORT = 7;
const SAMP = 8;

/**
 * The records of one group, oriented and scaled, in one growable Float64Array (no object per
 * record). Records may arrive out of order; `featuresOf` works on any subset by time.
 */
export class RecordLog {
  data = new Float64Array(STRIDE * 4);
  length = 0;

  /** Append row `i` of `b` with the orientation `o` (counters × sampling rate). */
  addRow(b: FlowBatch, i: number, up: boolean, clientPort: number): void {
    const s = b.samplingRate[i] > 1 ? b.samplingRate[i] : 1;
    const fp = b.packets[i] * s;
    const fb = b.bytes[i] * s;
    const rp = b.revPackets[i] * s;
    const rb = b.revBytes[i] * s;
    this.add(
      b.firstMs[i],
      b.lastMs[i],
      up ? fp : rp,
      up ? fb : rb,
      up ? rp : fp,
      up ? rb : fb,
      b.tcpFlags[i],
      clientPort,
      s,
    );
  }

  add(
    t0: number,
    t1: number,
    upPk: number,
    upBy: number,
    dnPk: number,
    dnBy: number,
    flags: number,
    cport: number,
    sampling = 1,
  ): void {
    if ((this.length + 1) * STRIDE > this.data.length) {
      const d = new Float64Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    const o = this.length * STRIDE;
    const d = this.data;
    d[o + T0] = t0;
    d[o + T1] = Math.max(t0, t1);
    d[o + UP_PK] = upPk;
    d[o + UP_BY] = upBy;
    d[o + DN_PK] = dnPk;
    d[o + DN_BY] = dnBy;
    d[o + FLAGS] = flags;
    d[o + CPORT] = cport;
    d[o + SAMP] = sampling;
    this.length++;
  }

  /** Drop records that ended before `ms` (a sliding window); keeps order of the rest. */
  dropBefore(ms: number): void {
    const d = this.data;
    let w = 0;
    for (let r = 0; r < this.length; r++) {
      if (d[r * STRIDE + T1] < ms) continue;
      if (w !== r) d.copyWithin(w * STRIDE, r * STRIDE, (r + 1) * STRIDE);
      w++;
    }
    this.length = w;
  }

  /** Drop the oldest records until at most `max` remain (a group's memory is bounded). */
  keepLast(max: number): void {
    if (this.length <= max) return;
    const cut = this.length - max;
    this.data.copyWithin(0, cut * STRIDE, this.length * STRIDE);
    this.length = max;
  }

  get firstMs(): number {
    let m = Infinity;
    for (let r = 0; r < this.length; r++) m = Math.min(m, this.data[r * STRIDE + T0]);
    return m;
  }

  get lastMs(): number {
    let m = -Infinity;
    for (let r = 0; r < this.length; r++) m = Math.max(m, this.data[r * STRIDE + T1]);
    return m;
  }
}

export interface WindowSummary {
  records: number;
  connections: number;
  spanMs: number;
  packets: number;
}

// Scratch space reused by every call (features are computed one group at a time).
let connStart = new Float64Array(64);
let connEnd = new Float64Array(64);
let connFlags = new Uint8Array(64);
let connPort = new Float64Array(64);
let connLongest = new Float64Array(64);
let order = new Int32Array(64);
const portIndex = new Map<number, number>();

function ensure(n: number): void {
  if (connStart.length >= n) return;
  const m = Math.max(n, connStart.length * 2);
  connStart = new Float64Array(m);
  connEnd = new Float64Array(m);
  connFlags = new Uint8Array(m);
  connPort = new Float64Array(m);
  connLongest = new Float64Array(m);
  order = new Int32Array(m);
}

/** Longest span and connection duration the features tell apart (the model's window). */
export const SPAN_CAP_MS = 3_600_000;

/**
 * Features of the records of `log` whose start lies in [fromMs, toMs), written into `out`
 * (length FEATURE_COUNT). Returns what the window held; `records` 0 means nothing to judge.
 * Span and connection durations enter the features capped at SPAN_CAP_MS: a Zeek row or an
 * unexpired flow can run for hours past a window, where a capture's flow table and NetFlow cut
 * the same session into window-sized records — capped, all look the same. Rates use the true span.
 */
/**
 * The span and packets `featuresOf(log, -Infinity, Infinity, …)` would report, without the rest:
 * what the model's gate looks at, so a group the gate refuses (most of them: one short record) costs
 * one pass of additions. The same sums in the same order, so the two agree to the last bit.
 */
export function gateSummary(log: RecordLog): { spanMs: number; packets: number } {
  const d = log.data;
  let first = Infinity;
  let last = -Infinity;
  let upPk = 0;
  let dnPk = 0;
  for (let r = 0; r < log.length; r++) {
    const o = r * STRIDE;
    if (d[o + T0] < first) first = d[o + T0];
    if (d[o + T1] > last) last = d[o + T1];
    upPk += d[o + UP_PK];
    dnPk += d[o + DN_PK];
  }
  if (log.length === 0) return { spanMs: 0, packets: 0 };
  return { spanMs: last - first, packets: upPk + dnPk };
}

export function featuresOf(log: RecordLog, fromMs: number, toMs: number, out: Float64Array): WindowSummary {
  const d = log.data;
  let n = 0;
  let first = Infinity;
  let last = -Infinity;
  let upPk = 0;
  let upBy = 0;
  let dnPk = 0;
  let dnBy = 0;
  ensure(log.length);
  portIndex.clear();
  // Records → connections, by client port (one pass; ports seen are few per group).
  let conns = 0;
  for (let r = 0; r < log.length; r++) {
    const o = r * STRIDE;
    const t0 = d[o + T0];
    if (t0 < fromMs || t0 >= toMs) continue;
    n++;
    const t1 = d[o + T1];
    if (t0 < first) first = t0;
    if (t1 > last) last = t1;
    upPk += d[o + UP_PK];
    upBy += d[o + UP_BY];
    dnPk += d[o + DN_PK];
    dnBy += d[o + DN_BY];
    const p = d[o + CPORT];
    let c = portIndex.get(p);
    if (c === undefined) {
      c = conns++;
      portIndex.set(p, c);
      connPort[c] = p;
      connStart[c] = t0;
      connEnd[c] = t1;
      connFlags[c] = d[o + FLAGS];
      connLongest[c] = t1 - t0;
    } else {
      if (t1 - t0 > connLongest[c]) connLongest[c] = t1 - t0;
      if (t0 < connStart[c]) connStart[c] = t0;
      if (t1 > connEnd[c]) connEnd[c] = t1;
      connFlags[c] |= d[o + FLAGS];
    }
  }
  out.fill(0);
  if (n === 0) return { records: 0, connections: 0, spanMs: 0, packets: 0 };
  const spanMs = last - first;
  const spanMin = spanMs / 60000;
  // Rates over at least one minute, as the study does: a burst of seconds is not a rate.
  const rateMin = Math.max(1, spanMin);
  const pk = upPk + dnPk;
  let syn = 0;
  let fin = 0;
  let rst = 0;
  let ap = 0;
  let durSum = 0;
  for (let c = 0; c < conns; c++) {
    const f = connFlags[c];
    if (f & TCP_SYN) syn++;
    if (f & TCP_FIN) fin++;
    if (f & TCP_RST) rst++;
    if ((f & (TCP_ACK | TCP_PSH)) === (TCP_ACK | TCP_PSH)) ap++;
    durSum += Math.min(SPAN_CAP_MS, connEnd[c] - connStart[c]);
    order[c] = c;
  }
  // Connections by start time: regularity of starts and the covered share of the span.
  const ord = order.subarray(0, conns).sort((a, b) => connStart[a] - connStart[b]);
  let cv = -1;
  if (conns >= 3) {
    let mean = 0;
    for (let k = 1; k < conns; k++) mean += connStart[ord[k]] - connStart[ord[k - 1]];
    mean /= conns - 1;
    if (mean > 0) {
      let v = 0;
      for (let k = 1; k < conns; k++) v += (connStart[ord[k]] - connStart[ord[k - 1]] - mean) ** 2;
      cv = Math.sqrt(v / (conns - 1)) / mean;
    }
  }
  let covered = 0;
  let curS = -Infinity;
  let curE = -Infinity;
  for (let k = 0; k < conns; k++) {
    const s = connStart[ord[k]];
    const e = connEnd[ord[k]];
    if (s > curE) {
      if (curE > curS) covered += curE - curS;
      curS = s;
      curE = e;
    } else if (e > curE) curE = e;
  }
  if (curE > curS) covered += curE - curS;
  const lg = Math.log10;
  out[0] = lg(1 + Math.min(spanMs, SPAN_CAP_MS) / 60000);
  out[1] = lg(conns);
  // Per connection and per hour over at most one window: a 3-hour Zeek row and three 1-hour
  // windows of the same session give the same numbers.
  const capped = Math.min(spanMs, SPAN_CAP_MS);
  const inWindow = spanMs > 0 ? capped / spanMs : 1;
  out[2] = lg(1 + conns / Math.max(capped / 3_600_000, 1 / 60));
  out[3] = lg(1 + pk / rateMin);
  out[4] = upPk > 0 ? upBy / upPk : 0;
  out[5] = dnPk > 0 ? dnBy / dnPk : 0;
  out[6] = lg((dnBy + 1) / (upBy + 1));
  out[7] = pk > 0 ? upPk / pk : 0;
  out[8] = lg(1 + (pk * inWindow) / conns);
  out[9] = lg(1 + durSum / conns / 1000);
  out[10] = cv;
  out[11] = spanMs > 0 ? covered / spanMs : 1;
  out[12] = syn / conns;
  out[13] = fin / conns;
  out[14] = rst / conns;
  out[15] = ap / conns;
  out[16] = lg(1 + upBy / rateMin);
  out[17] = lg(1 + dnBy / rateMin);
  out[18] = recordDispersion(log, fromMs, toMs, conns);
  return { records: n, connections: conns, spanMs, packets: pk };
}

/** Records a connection needs, each way, to count its dispersion (and packets a record, on average). */
const DISPERSION_MIN_RECORDS = 4;
const DISPERSION_MIN_MEAN = 2;
/** Shortest record that counts, as a share of the connection's longest. */
const DISPERSION_MIN_LENGTH = 0.5;
let dispN = new Float64Array(128);
let dispK = new Float64Array(128);
let dispL = new Float64Array(128);
let dispQ = new Float64Array(128);

/**
 * How packet counts vary between the records an exporter or a flow table cuts a long connection
 * into, against what their lengths predict: the Poisson dispersion statistic with exposures,
 * Σ (kᵢ − λLᵢ)² / (λLᵢ) over n − 1 degrees of freedom, where kᵢ is a record's packets one way, Lᵢ
 * its length and λ = Σk / ΣL the connection's rate that way. Pooled over the window's connections
 * and both directions. Shares are found at random (a Poisson process: ≈ 1, whatever the records'
 * lengths), while a keep-alive clock puts packets in proportion to a record's length (near 0);
 * bursts of traffic give more than 1. Records cut by an active timeout are of equal length, but a
 * connection's last record, and those a flow table's idle timeout cuts, are not: weighing each by
 * its length keeps a short record from looking like a burst (behaviour-gbt/3 used the plain
 * variance over the mean and so took a clock's short last record for one). Records shorter than
 * half the connection's longest are left out (a record of a few packets says little, and its
 * first and last packets weigh too much in it); each direction counts where it has packets
 * (one-way NetFlow gives a record per direction). Sampled records are left out: thinning by 1:N
 * pulls every index towards 1, so a sampled keep-alive would look like shares; the model then has
 * the totals only, as for Zeek (one row per connection) and a capture read with a long active
 * timeout, which cut an hour into too few records: −1. (The capture reader cuts every 5 min by
 * default, as nfpcapd does.)
 */
function recordDispersion(log: RecordLog, fromMs: number, toMs: number, conns: number): number {
  const d = log.data;
  // Per connection and direction (2c up, 2c + 1 down): records, Σk, ΣL and Σk²/L.
  if (dispN.length < 2 * conns) {
    dispN = new Float64Array(4 * conns);
    dispK = new Float64Array(4 * conns);
    dispL = new Float64Array(4 * conns);
    dispQ = new Float64Array(4 * conns);
  }
  dispN.fill(0, 0, 2 * conns);
  dispK.fill(0, 0, 2 * conns);
  dispL.fill(0, 0, 2 * conns);
  dispQ.fill(0, 0, 2 * conns);
  for (let r = 0; r < log.length; r++) {
    const o = r * STRIDE;
    const t0 = d[o + T0];
    if (t0 < fromMs || t0 >= toMs) continue;
    const c = portIndex.get(d[o + CPORT])!;
    const len = d[o + T1] - t0;
    if (len <= 0 || len < DISPERSION_MIN_LENGTH * connLongest[c] || d[o + SAMP] > 1) continue;
    for (let dir = 0; dir < 2; dir++) {
      const k = d[o + (dir === 0 ? UP_PK : DN_PK)];
      if (k <= 0) continue;
      const j = 2 * c + dir;
      dispN[j]++;
      dispK[j] += k;
      dispL[j] += len;
      dispQ[j] += (k * k) / len;
    }
  }
  let pooled = 0;
  let dof = 0;
  for (let j = 0; j < 2 * conns; j++) {
    const n = dispN[j];
    if (n < DISPERSION_MIN_RECORDS || dispK[j] / n < DISPERSION_MIN_MEAN) continue;
    // Σ (k − λL)² / (λL) = Σ(k²/L) / λ − Σk, with λ = Σk / ΣL.
    const lambda = dispK[j] / dispL[j];
    pooled += Math.max(0, dispQ[j] / lambda - dispK[j]);
    dof += n - 1;
  }
  return dof > 0 ? pooled / dof : -1;
}
