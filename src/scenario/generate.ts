/**
 * Streams the synthetic world as flows in time order: FlowBatch for the pipeline, or per-day counts
 * for series tests (the same flows, counted instead of materialised).
 */
import { FlowBatch } from '../flow/record.js';
import {
  ALL_SERVICES,
  FlowModel,
  HourFlows,
  servicesForAddresses,
  servicesForPorts,
  type Service,
} from './model.js';
import type { World } from './world.js';

const HOUR = 3600000;
const DAY = 86400000;

export interface GenerateOptions {
  /** Only these services (default all). */
  services?: ReadonlySet<Service>;
  batchSize?: number;
  /** Source name put on every batch. */
  source?: string;
  /** Exporter address written on every flow. */
  exporter?: string;
}

/** Each hour's flows sorted by start time. */
export function* hours(
  world: World,
  services?: ReadonlySet<Service>,
  range?: { fromMs: number; toMs: number },
): Generator<{ hourMs: number; flows: HourFlows; order: Int32Array }> {
  const model = new FlowModel(world, services ?? new Set(ALL_SERVICES));
  const buf = new HourFlows();
  const c = world.config;
  let end = c.startMs + c.days * DAY;
  let t = c.startMs;
  if (range) {
    t = Math.max(t, c.startMs + Math.floor((range.fromMs - c.startMs) / HOUR) * HOUR);
    end = Math.min(end, range.toMs);
  }
  for (; t < end; t += HOUR) {
    buf.clear();
    model.hour(t, buf);
    yield { hourMs: t, flows: buf, order: buf.sort() };
  }
}

/** The world as FlowBatch objects in start-time order (biflows: reverse counters filled). */
export function* flowBatches(world: World, opts: GenerateOptions = {}): Generator<FlowBatch> {
  const size = opts.batchSize ?? 4096;
  const source = opts.source ?? `scenario:seed=${world.config.seed}`;
  let b = new FlowBatch(size, source);
  const exp = b.exporterIndex(opts.exporter ?? '');
  let pos = 0;
  const sampling = world.config.sampling;
  for (const { flows: f, order } of hours(world, opts.services)) {
    for (let k = 0; k < order.length; k++) {
      const i = order[k];
      if (b.full) {
        yield b;
        b = new FlowBatch(size, source);
        b.exporterIndex(opts.exporter ?? '');
      }
      const r = b.push();
      b.firstMs[r] = f.firstMs[i];
      b.lastMs[r] = f.lastMs[i];
      b.ipVersion[r] = 4;
      const s = f.src[i];
      const d = f.dst[i];
      const o = r * 16;
      b.src[o] = s >>> 24;
      b.src[o + 1] = (s >>> 16) & 255;
      b.src[o + 2] = (s >>> 8) & 255;
      b.src[o + 3] = s & 255;
      b.dst[o] = d >>> 24;
      b.dst[o + 1] = (d >>> 16) & 255;
      b.dst[o + 2] = (d >>> 8) & 255;
      b.dst[o + 3] = d & 255;
      b.srcPort[r] = f.srcPort[i];
      b.dstPort[r] = f.dstPort[i];
      b.proto[r] = f.proto[i];
      b.packets[r] = f.packets[i];
      b.bytes[r] = f.bytes[i];
      b.revPackets[r] = f.revPackets[i];
      b.revBytes[r] = f.revBytes[i];
      b.tcpFlags[r] = f.tcpFlags[i];
      b.samplingRate[r] = sampling;
      b.exporterIdx[r] = exp;
      b.position[r] = pos++;
      b.payloadFwd[r] = f.payloadFwd[i] ?? null;
      b.payloadRev[r] = f.payloadRev[i] ?? null;
    }
  }
  if (b.length > 0) yield b;
}

export interface DailyCounts {
  /** UTC midnight of each day. */
  dayMs: number[];
  /** Flows whose destination (server) port is in the set. */
  flows: number[];
  /** Their packets in both directions, as exported (not scaled by sampling). */
  packets: number[];
  /** Days the exporter was down (no flows at all). */
  observed: boolean[];
}

/**
 * Daily counts of flows to the given server ports (or to the given addresses), generated from only the services that can
 * produce them: identical to counting the full generator's output, at a fraction of the cost.
 */
export function dailyPortSeries(
  world: World,
  ports: readonly number[],
  dstIps: readonly number[] = [],
): DailyCounts {
  const c = world.config;
  const set = new Uint8Array(65536);
  for (const p of ports) set[p] = 1;
  const ips = new Set(dstIps);
  const services = servicesForPorts(ports);
  for (const s of servicesForAddresses(dstIps)) services.add(s);
  const model = new FlowModel(world, services);
  const out: DailyCounts = { dayMs: [], flows: [], packets: [], observed: [] };
  for (let d = 0; d < c.days; d++) {
    out.dayMs.push(c.startMs + d * DAY);
    out.flows.push(0);
    out.packets.push(0);
    out.observed.push(!model.outage(d));
  }
  const buf = new HourFlows();
  const end = c.startMs + c.days * DAY;
  for (let t = c.startMs; t < end; t += HOUR) {
    buf.clear();
    model.hour(t, buf);
    const d = Math.floor((t - c.startMs) / DAY);
    for (let i = 0; i < buf.length; i++) {
      if (!set[buf.dstPort[i]] && !(ips.size > 0 && ips.has(buf.dst[i]))) continue;
      out.flows[d]++;
      out.packets[d] += buf.packets[i] + buf.revPackets[i];
    }
  }
  return out;
}
