/**
 * sFlow version 5 datagram decoder (sflow.org, sflow_version_5.txt). One instance per input (a live
 * socket or a file). Every sampled packet becomes one FlowBatch row: packets 1, bytes the sampled
 * frame's length on the wire, sampling rate the sample's own (counters are kept as sampled, not
 * scaled, as NetFlow's sampled records are; the store scales with the sampling_rate column).
 *
 * Samples are not aggregated by 5-tuple here: one row per sample keeps every packet and byte count
 * exact whatever the window, and the store sums by 5-tuple when asked. Counter samples are counted
 * (`sflow.counter-samples`), not stored as flows.
 *
 * Bad input is reported through Diagnostics with its location (file offset, or datagram number and
 * byte within it) and skipped: a bad sample skips to the next one (its length is known), a bad
 * header skips the datagram; nothing here throws on bytes from the wire. Per-agent state (sequence
 * numbers, the last sampling rate) is held for at most `maxAgents` agents; datagrams of further
 * agents are still decoded, only not accounted (`sflow.agents-refused-cap`).
 */
import {
  Decoded,
  DecodedPacket,
  decodePacket,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
} from '../capture/decode.js';
import type { NetflowDecoderOptions } from '../netflow/decoder.js';
import { FlowBatch, ipText } from '../flow/record.js';

/** The NetFlow decoder's input options (source, unit, diagnostics, batches), and the agent cap. */
export interface SflowDecoderOptions extends Pick<
  NetflowDecoderOptions,
  'source' | 'unit' | 'diagnostics' | 'batchSize' | 'onBatch' | 'newBatch'
> {
  /** Agents (agent address + sub-agent id) with sequence state at once (default 512). */
  maxAgents?: number;
}

/** Per-agent bookkeeping, one per agent address + sub-agent id. */
export interface SflowAgentStat {
  agent: string;
  subAgent: number;
  datagrams: number;
  samples: number;
  /** Datagrams missing by the datagram sequence number. */
  missingDatagrams: number;
  /** Times the sequence went back (agent restart). */
  resets: number;
  /** Sampling rate of the agent's last flow sample. */
  samplingRate: number;
  /**
   * Largest `drops` a flow sample of this agent reported: packets its sampler could not sample for
   * lack of resources (a running count per data source, so the largest is a lower bound of the sum).
   */
  drops: number;
}

interface AgentState extends SflowAgentStat {
  /** Next expected datagram sequence number; -1 before the first. */
  expected: number;
}

// sFlow data formats: enterprise (20 bits) << 12 | format (12 bits); standard ones have enterprise 0.
const SAMPLE_FLOW = 1;
const SAMPLE_COUNTERS = 2;
const SAMPLE_FLOW_EXPANDED = 3;
const SAMPLE_COUNTERS_EXPANDED = 4;
const RECORD_RAW_HEADER = 1;
const RECORD_SAMPLED_IPV4 = 3;
const RECORD_SAMPLED_IPV6 = 4;
const RECORD_EXTENDED_SWITCH = 1001;
const RECORD_EXTENDED_ROUTER = 1002;
// header_protocol values of sampled_header that carry IP we can decode.
const HEADER_ETHERNET = 1;
const HEADER_IPV4 = 11;
const HEADER_IPV6 = 12;

/** A flow sample of more records than this is not believed (a corrupt count), and skipped. */
const MAX_RECORDS_PER_SAMPLE = 256;
const TWO32 = 4294967296;
/** Behind the expected datagram sequence by at most this much: late (reordered), not a restart. */
const LATE_DATAGRAMS = 64;

function u32(b: Buffer, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** True when `b[off, off+len)` starts like an sFlow v5 datagram (version 5, agent type 1 or 2). */
export function looksLikeSflow(b: Uint8Array, off: number, len: number): boolean {
  if (len < 28) return false;
  if (b[off] !== 0 || b[off + 1] !== 0 || b[off + 2] !== 0 || b[off + 3] !== 5) return false;
  const t = (b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7];
  return t === 1 ? true : t === 2 ? len >= 40 : false;
}

export class SflowDecoder {
  private batch: FlowBatch;
  private readonly batchSize: number;
  private readonly newBatch: (capacity: number, source: string) => FlowBatch;
  private readonly maxAgents: number;
  private readonly agents = new Map<string, AgentState>();
  private readonly pkt = new DecodedPacket();
  // The datagram being decoded (fields, not an object per datagram).
  private curBuf: Buffer = Buffer.alloc(0);
  private curPosition = 0;
  private curTimeMs = 0;
  private curExporterIdx = 0;
  private curExporter = '';
  private curSubAgent = 0;
  private curAgent: AgentState | null = null;
  // Counters kept as numbers on the hot path and added to Diagnostics on flush (one Map update per
  // batch, not per sample).
  private nFlowSamples = 0;
  private nCounterSamples = 0;
  private nPackets = 0;
  private nNotIp = 0;
  private nNoPacket = 0;
  private nUnsupportedHeader = 0;
  private nFragments = 0;
  private nExtSwitch = 0;
  private nExtRouter = 0;
  private nOtherRecords = 0;
  private nOtherSamples = 0;

  constructor(private readonly o: SflowDecoderOptions) {
    this.batchSize = o.batchSize ?? 4096;
    this.maxAgents = o.maxAgents ?? 512;
    this.newBatch = o.newBatch ?? ((n, s) => new FlowBatch(n, s));
    this.batch = this.newBatch(this.batchSize, o.source);
  }

  private problem(kind: string, message: string, inner: number): void {
    // The location is the datagram (a capture's packet record offset, or the datagram number on a
    // socket); the byte within the datagram is in the message, so the two units read alike.
    this.o.diagnostics.problem({
      source: this.o.source,
      offset: this.curPosition,
      unit: this.o.unit,
      kind,
      message: `${message} (at byte ${inner} of the sFlow datagram)`,
    });
  }

  private rotate(): void {
    const full = this.batch;
    this.batch = this.newBatch(this.batchSize, this.o.source);
    this.curExporterIdx = this.batch.exporterIndex(this.curExporter);
    this.o.onBatch(full);
  }

  private addCounts(): void {
    const d = this.o.diagnostics;
    const put = (name: string, n: number) => {
      if (n) d.add(name, n);
    };
    put('sflow.flow-samples', this.nFlowSamples);
    put('sflow.counter-samples', this.nCounterSamples);
    put('records', this.nPackets);
    put('sflow.samples-not-ip', this.nNotIp);
    put('sflow.samples-without-packet', this.nNoPacket);
    put('sflow.header-protocol-unsupported', this.nUnsupportedHeader);
    put('sflow.fragments', this.nFragments);
    put('sflow.extended-switch', this.nExtSwitch);
    put('sflow.extended-router', this.nExtRouter);
    put('sflow.records-other', this.nOtherRecords);
    put('sflow.samples-other', this.nOtherSamples);
    this.nFlowSamples = this.nCounterSamples = this.nPackets = this.nNotIp = this.nNoPacket = 0;
    this.nUnsupportedHeader = this.nFragments = this.nExtSwitch = this.nExtRouter = 0;
    this.nOtherRecords = this.nOtherSamples = 0;
  }

  /** Hand over the partial batch (if any rows) and the counters. */
  flush(): void {
    this.addCounts();
    if (this.batch.length > 0) this.rotate();
  }

  finish(): void {
    this.flush();
  }

  /** Per-agent statistics (bounded by maxAgents). */
  agentStats(): SflowAgentStat[] {
    const out: SflowAgentStat[] = [];
    for (const a of this.agents.values()) {
      const { expected: _, ...stat } = a;
      out.push(stat);
    }
    return out;
  }

  /** Last sampling rate per agent address (as the NetFlow decoder reports it per exporter). */
  samplingByAgent(): [string, number][] {
    const out: [string, number][] = [];
    for (const a of this.agents.values()) if (a.samplingRate > 1) out.push([a.agent, a.samplingRate]);
    return out;
  }

  /**
   * Decode one sFlow datagram. `position`: file offset of the packet that carried it, or the
   * datagram number on a live socket; `timeMs`: when it was received (capture time, or wall clock),
   * which becomes every sample's time (sFlow carries only the agent's uptime).
   */
  decode(buf: Buffer, position: number, timeMs: number): void {
    const d = this.o.diagnostics;
    d.add('datagrams');
    d.add('sflow.datagrams');
    this.curBuf = buf;
    this.curPosition = position;
    this.curTimeMs = timeMs;
    const len = buf.length;
    if (len < 8 || u32(buf, 0) !== 5) {
      this.problem(
        'bad-version',
        len < 4
          ? `datagram of ${len} bytes is shorter than an sFlow header`
          : `not an sFlow v5 datagram (version ${u32(buf, 0)})`,
        0,
      );
      return;
    }
    const addrType = u32(buf, 4);
    const addrLen = addrType === 1 ? 4 : addrType === 2 ? 16 : -1;
    if (addrLen < 0) {
      this.problem(
        'bad-agent-address',
        `agent address type ${addrType} (expected 1 IPv4 or 2 IPv6); datagram skipped`,
        4,
      );
      return;
    }
    const hdrEnd = 8 + addrLen + 16;
    if (len < hdrEnd) {
      this.problem(
        'truncated-header',
        `sFlow v5 datagram of ${len} bytes is shorter than its ${hdrEnd}-byte header`,
        0,
      );
      return;
    }
    const subAgent = u32(buf, 8 + addrLen);
    const seq = u32(buf, 12 + addrLen);
    const nSamples = u32(buf, 20 + addrLen);
    const agent = this.agentFor(buf, addrLen, subAgent);
    if (agent !== null) this.sequence(agent, seq);
    let p = hdrEnd;
    let k = 0;
    for (; k < nSamples; k++) {
      if (len - p < 8) {
        this.problem(
          'truncated-sample',
          `datagram says ${nSamples} samples but ends after ${k} (${len} bytes)`,
          p,
        );
        d.add('sflow.samples-skipped', nSamples - k);
        break;
      }
      const format = u32(buf, p);
      const sampleLen = u32(buf, p + 4);
      const body = p + 8;
      if (sampleLen > len - body) {
        this.problem(
          'truncated-sample',
          `sample ${k} of ${sampleLen} bytes runs past the datagram's end (${len - body} bytes left)`,
          p,
        );
        d.add('sflow.samples-skipped', nSamples - k);
        break;
      }
      const end = body + sampleLen;
      if (format === SAMPLE_FLOW) this.flowSample(body, end, false);
      else if (format === SAMPLE_FLOW_EXPANDED) this.flowSample(body, end, true);
      else if (format === SAMPLE_COUNTERS || format === SAMPLE_COUNTERS_EXPANDED) this.nCounterSamples++;
      else this.nOtherSamples++;
      p = end;
    }
    if (agent !== null) agent.samples += k;
    if (k === nSamples && p !== len) d.add('sflow.datagrams-trailing-bytes');
  }

  /** The datagram's agent state (created when new); null when the cap refuses a new agent. */
  private agentFor(buf: Buffer, addrLen: number, subAgent: number): AgentState | null {
    const addr = ipText(buf, 8, addrLen === 4 ? 4 : 6);
    if (addr !== this.curExporter) {
      this.curExporter = addr;
      this.curExporterIdx = this.batch.exporterIndex(addr);
    }
    this.curSubAgent = subAgent;
    const key = `${addr}/${subAgent}`;
    let a = this.agents.get(key);
    if (a === undefined) {
      if (this.agents.size >= this.maxAgents) {
        this.o.diagnostics.add('sflow.agents-refused-cap');
        this.curAgent = null;
        return null;
      }
      a = {
        agent: addr,
        subAgent,
        datagrams: 0,
        samples: 0,
        missingDatagrams: 0,
        resets: 0,
        samplingRate: 0,
        drops: 0,
        expected: -1,
      };
      this.agents.set(key, a);
    }
    this.curAgent = a;
    return a;
  }

  /** Datagram sequence: a gap counts missing datagrams, a step back beyond reordering a restart. */
  private sequence(a: AgentState, seq: number): void {
    a.datagrams++;
    const next = (seq + 1) % TWO32;
    if (a.expected < 0) {
      a.expected = next;
      return;
    }
    const diff = (seq - a.expected) | 0;
    if (diff === 0) a.expected = next;
    else if (diff > 0) {
      a.missingDatagrams += diff;
      this.o.diagnostics.add('datagrams.missing', diff);
      a.expected = next;
    } else if (-diff <= LATE_DATAGRAMS) {
      // A reordered datagram: it was counted missing when the gap opened.
      if (a.missingDatagrams > 0) {
        a.missingDatagrams--;
        this.o.diagnostics.add('datagrams.missing', -1);
      }
      this.o.diagnostics.add('sequence.late');
    } else {
      a.resets++;
      this.o.diagnostics.add('sequence.resets');
      a.expected = next;
    }
  }

  /**
   * A flow sample (compact or expanded) in `[p, end)`: its header, then its records. The packet
   * comes from the raw-header record when there is one, else from a sampled IPv4/IPv6 record.
   */
  private flowSample(p: number, end: number, expanded: boolean): void {
    const buf = this.curBuf;
    const fixed = expanded ? 44 : 32;
    if (end - p < fixed) {
      this.problem(
        'truncated-sample',
        `${expanded ? 'expanded ' : ''}flow sample of ${end - p} bytes is shorter than its ${fixed}-byte header`,
        p,
      );
      return;
    }
    this.nFlowSamples++;
    // compact: seq, source_id, rate, pool, drops, input, output, n; expanded: seq, source type,
    // source index, rate, pool, drops, input format, input value, output format, output value, n.
    const rate = u32(buf, p + (expanded ? 12 : 8));
    const nRecords = u32(buf, p + fixed - 4);
    if (nRecords > MAX_RECORDS_PER_SAMPLE) {
      this.problem(
        'bad-sample',
        `flow sample declares ${nRecords} records (at most ${MAX_RECORDS_PER_SAMPLE} believed); sample skipped`,
        p,
      );
      this.o.diagnostics.add('sflow.samples-skipped');
      return;
    }
    const a = this.curAgent;
    if (a !== null) {
      if (rate > 0) a.samplingRate = rate;
      const drops = u32(buf, p + (expanded ? 20 : 16));
      if (drops > a.drops) a.drops = drops;
    }
    let q = p + fixed;
    let header = -1;
    let headerEnd = 0;
    let sampled = -1;
    let sampledFormat = 0;
    for (let r = 0; r < nRecords; r++) {
      if (end - q < 8) {
        this.problem('truncated-record', `flow sample says ${nRecords} records but ends after ${r}`, q);
        this.o.diagnostics.add('sflow.samples-skipped');
        return;
      }
      const format = u32(buf, q);
      const recLen = u32(buf, q + 4);
      const body = q + 8;
      if (recLen > end - body) {
        this.problem(
          'truncated-record',
          `flow record of ${recLen} bytes runs past its sample (${end - body} bytes left)`,
          q,
        );
        this.o.diagnostics.add('sflow.samples-skipped');
        return;
      }
      if (format === RECORD_RAW_HEADER) {
        header = body;
        headerEnd = body + recLen;
      } else if (format === RECORD_SAMPLED_IPV4 || format === RECORD_SAMPLED_IPV6) {
        sampled = body;
        sampledFormat = format;
      } else if (format === RECORD_EXTENDED_SWITCH) this.nExtSwitch++;
      else if (format === RECORD_EXTENDED_ROUTER) this.nExtRouter++;
      else this.nOtherRecords++;
      q = body + recLen;
    }
    if (header >= 0) this.rawHeader(header, headerEnd, rate);
    else if (sampled >= 0) this.sampledIp(sampled, sampledFormat, q, rate);
    else this.nNoPacket++;
  }

  /** sampled_header: protocol, frame_length, stripped, header<> → decoded by the capture decoder. */
  private rawHeader(p: number, end: number, rate: number): void {
    const buf = this.curBuf;
    if (end - p < 16) {
      this.problem('truncated-record', `raw packet header record of ${end - p} bytes (at least 16)`, p);
      return;
    }
    const proto = u32(buf, p);
    const frameLength = u32(buf, p + 4);
    const hdrLen = u32(buf, p + 12);
    if (hdrLen > end - p - 16) {
      this.problem(
        'truncated-record',
        `raw packet header says ${hdrLen} bytes but its record holds ${end - p - 16}`,
        p,
      );
      return;
    }
    const link =
      proto === HEADER_ETHERNET
        ? LINKTYPE_ETHERNET
        : proto === HEADER_IPV4
          ? LINKTYPE_IPV4
          : proto === HEADER_IPV6
            ? LINKTYPE_IPV6
            : -1;
    if (link < 0) {
      this.nUnsupportedHeader++;
      return;
    }
    const d = this.pkt;
    const r = decodePacket(buf, p + 16, hdrLen, frameLength, link, d);
    if (r !== Decoded.Ok) {
      this.nNotIp++;
      return;
    }
    if (d.fragment) this.nFragments++;
    const i = this.row();
    const b = this.batch;
    const o16 = i * 16;
    const n = d.ipVersion === 6 ? 16 : 4;
    const s = b.src;
    const t = b.dst;
    for (let k = 0; k < n; k++) {
      s[o16 + k] = buf[d.srcOffset + k];
      t[o16 + k] = buf[d.dstOffset + k];
    }
    b.ipVersion[i] = d.ipVersion;
    b.proto[i] = d.proto;
    b.srcPort[i] = d.srcPort;
    b.dstPort[i] = d.dstPort;
    b.tcpFlags[i] = d.tcpFlags;
    b.bytes[i] = frameLength;
    b.samplingRate[i] = rate > 0 ? rate : 1;
  }

  /** sampled_ipv4 / sampled_ipv6: length, protocol, addresses, ports, TCP flags as fields. */
  private sampledIp(p: number, format: number, end: number, rate: number): void {
    const buf = this.curBuf;
    const v6 = format === RECORD_SAMPLED_IPV6;
    const need = v6 ? 56 : 32;
    if (end - p < need) {
      this.problem(
        'truncated-record',
        `sampled IPv${v6 ? 6 : 4} record of ${end - p} bytes (at least ${need})`,
        p,
      );
      return;
    }
    const n = v6 ? 16 : 4;
    const i = this.row();
    const b = this.batch;
    const o16 = i * 16;
    for (let k = 0; k < n; k++) {
      b.src[o16 + k] = buf[p + 8 + k];
      b.dst[o16 + k] = buf[p + 8 + n + k];
    }
    const q = p + 8 + 2 * n;
    b.ipVersion[i] = v6 ? 6 : 4;
    b.proto[i] = u32(buf, p + 4) & 0xff;
    b.srcPort[i] = u32(buf, q) & 0xffff;
    b.dstPort[i] = u32(buf, q + 4) & 0xffff;
    b.tcpFlags[i] = u32(buf, q + 8) & 0xff;
    b.bytes[i] = u32(buf, p);
    b.samplingRate[i] = rate > 0 ? rate : 1;
  }

  /** A new row with the per-sample constants set and both address slots zeroed. */
  private row(): number {
    if (this.batch.length >= this.batch.capacity) this.rotate();
    const b = this.batch;
    const i = b.length++;
    b.src.fill(0, i * 16, i * 16 + 16);
    b.dst.fill(0, i * 16, i * 16 + 16);
    b.firstMs[i] = this.curTimeMs;
    b.lastMs[i] = this.curTimeMs;
    b.packets[i] = 1;
    b.revPackets[i] = 0;
    b.revBytes[i] = 0;
    b.observationDomain[i] = this.curSubAgent;
    b.position[i] = this.curPosition;
    b.exporterIdx[i] = this.curExporterIdx;
    b.payloadFwd[i] = null;
    b.payloadRev[i] = null;
    b.timesFwdLen[i] = 0;
    b.timesRevLen[i] = 0;
    this.nPackets++;
    return i;
  }
}
