/**
 * Packets of a made-up connection → flow records as each telemetry source would cut them: a
 * capture's flow table (idle 60 s, active 5 min, biflow), NetFlow v5 (one-way, active timeout),
 * bidirectional IPFIX (active timeout), Zeek conn.log (one row per connection). Training uses it
 * for long-lived keep-alive channels the real captures are too short to show; tests use it for
 * patterns written by hand.
 */
import { FlowBatch, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, type FlowRecord } from '../../flow/record.js';
import type { Rng } from '../../scenario/rng.js';
import { DEFAULT_ACTIVE_TIMEOUT_MS } from '../../capture/flow-table.js';

export interface SynthConnection {
  client: string;
  server: string;
  clientPort: number;
  serverPort: number;
  /** Packets: time (ms), direction (true = client → server), IP bytes, TCP flags. */
  packets: { t: number; up: boolean; bytes: number; flags: number }[];
}

export type SynthFormat = 'pcap' | 'netflow-v5' | 'ipfix-biflow' | 'zeek';

export const SYNTH_FORMATS: SynthFormat[] = ['pcap', 'netflow-v5', 'ipfix-biflow', 'zeek'];

/** Packets of a TCP session: handshake at `t0`, the given exchanges, FIN at `t1` when closed. */
export function session(
  c: Omit<SynthConnection, 'packets'>,
  t0: number,
  t1: number,
  exchanges: { t: number; up: boolean; bytes: number }[],
  closed: boolean,
): SynthConnection {
  const p: SynthConnection['packets'] = [
    { t: t0, up: true, bytes: 60, flags: TCP_SYN },
    { t: t0 + 20, up: false, bytes: 60, flags: TCP_SYN | TCP_ACK },
    { t: t0 + 40, up: true, bytes: 52, flags: TCP_ACK },
  ];
  for (const e of exchanges) {
    p.push({ t: e.t, up: e.up, bytes: e.bytes, flags: TCP_ACK | TCP_PSH });
    // The other end acknowledges (delayed ACK).
    p.push({ t: e.t + 40, up: !e.up, bytes: 52, flags: TCP_ACK });
  }
  if (closed) {
    p.push({ t: t1, up: true, bytes: 52, flags: TCP_FIN | TCP_ACK });
    p.push({ t: t1 + 20, up: false, bytes: 52, flags: TCP_FIN | TCP_ACK });
    p.push({ t: t1 + 40, up: true, bytes: 52, flags: TCP_ACK });
  }
  p.sort((a, b) => a.t - b.t);
  return { ...c, packets: p };
}

function blank(c: SynthConnection, up: boolean): FlowRecord {
  return {
    firstMs: 0,
    lastMs: 0,
    ipVersion: 4,
    src: up ? c.client : c.server,
    dst: up ? c.server : c.client,
    srcPort: up ? c.clientPort : c.serverPort,
    dstPort: up ? c.serverPort : c.clientPort,
    proto: 6,
    packets: 0,
    bytes: 0,
    revPackets: 0,
    revBytes: 0,
    tcpFlags: 0,
    samplingRate: 1,
    exporter: '',
    observationDomain: 0,
    source: 'synthetic',
    position: 0,
    payloadFwd: null,
    payloadRev: null,
  };
}

/** The records of one connection as `format` would report them. */
export function recordsOf(c: SynthConnection, format: SynthFormat): FlowRecord[] {
  const out: FlowRecord[] = [];
  const biflow = format !== 'netflow-v5';
  const idle = format === 'pcap' ? 60_000 : format === 'zeek' ? Infinity : 15_000_000;
  const active =
    format === 'pcap'
      ? DEFAULT_ACTIVE_TIMEOUT_MS
      : format === 'netflow-v5'
        ? 300_000
        : format === 'ipfix-biflow'
          ? 60_000
          : Infinity;
  // Open record per direction slot (biflow: one slot).
  const open: (FlowRecord | null)[] = [null, null];
  const close = (k: number) => {
    if (open[k]) out.push(open[k]!);
    open[k] = null;
  };
  for (const p of c.packets) {
    const k = biflow ? 0 : p.up ? 0 : 1;
    let r = open[k];
    if (r && (p.t - r.lastMs > idle || p.t - r.firstMs >= active)) {
      close(k);
      r = null;
    }
    if (!r) {
      // A biflow's orientation is its first packet's (a flow table cut mid-session keeps the
      // session's orientation: the client end).
      r = blank(c, biflow ? true : p.up);
      r.firstMs = p.t;
      open[k] = r;
    }
    r.lastMs = p.t;
    const fwd = biflow ? p.up : true;
    if (fwd) {
      r.packets++;
      r.bytes += p.bytes;
    } else {
      r.revPackets++;
      r.revBytes += p.bytes;
    }
    r.tcpFlags |= p.flags;
  }
  close(0);
  close(1);
  return out.sort((a, b) => a.firstMs - b.firstMs);
}

/** Records of connections → batches of at most `size` rows, in start order. */
export function batchesOf(conns: SynthConnection[], format: SynthFormat, size = 4096): FlowBatch[] {
  const recs = conns.flatMap((c) => recordsOf(c, format)).sort((a, b) => a.firstMs - b.firstMs);
  const out: FlowBatch[] = [];
  let b = new FlowBatch(size, `synthetic:${format}`);
  for (const r of recs) {
    if (b.full) {
      out.push(b);
      b = new FlowBatch(size, `synthetic:${format}`);
    }
    b.pushRecord(r);
  }
  if (b.length) out.push(b);
  return out;
}

export type Exchange = { t: number; up: boolean; bytes: number };

/**
 * One client's sessions back to back from `t0` until `t1`: each lasts `life()` ms and holds the
 * exchanges `fill(start, end)` returns; the next starts `gap()` ms after (a reconnect). Sessions
 * cut by `t1` stay open (no FIN).
 */
export function sessionRun(
  rng: Rng,
  addr: { client: string; server: string },
  serverPort: number,
  t0: number,
  t1: number,
  life: () => number,
  fill: (start: number, end: number) => Exchange[],
  gap: () => number,
): SynthConnection[] {
  const out: SynthConnection[] = [];
  for (let t = t0; t < t1;) {
    const end = Math.min(t + life(), t1);
    const ex = fill(t, end).sort((a, b) => a.t - b.t);
    out.push(session({ ...addr, clientPort: rng.int(32768, 60999), serverPort }, t, end, ex, end < t1));
    t = end + gap();
  }
  return out;
}

/** Connections → batches in every telemetry format, named `synthetic-<format>`. */
export function inEveryFormat(conns: SynthConnection[]): [string, FlowBatch[]][] {
  return SYNTH_FORMATS.map((f) => [`synthetic-${f}`, batchesOf(conns, f)]);
}
