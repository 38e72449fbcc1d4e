/**
 * The flow model: how many flows each host opens in each hour, to whom, and how big they are.
 * Every (service, host, day, hour) draws from its own random stream, so a subset of services can be
 * generated alone (series mode) and yields exactly the flows the full generator would.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../flow/record.js';
import { Rng } from './rng.js';
import {
  btcNotify,
  clientHello,
  poolHello,
  STRATUM_SIZES,
  submit,
  submitResult,
  xmrJob,
  type StratumIdentity,
} from './stratum.js';
import {
  CRYPTO_PORTS,
  OUTSIDE,
  parseCidr,
  pickInCidr,
  type CryptoHost,
  type Host,
  type World,
} from './world.js';

export const enum Service {
  Web = 0,
  Tls = 1,
  Dns = 2,
  Mail = 3,
  Vpn = 4,
  P2p = 5,
  Misc = 6,
  Scan = 7,
  Stratum = 8,
  BtcP2p = 9,
  /** Ordinary flows that happen to use a crypto port: own streams, so a crypto-port series need not draw the rest. */
  MiscCrypto = 10,
  ScanCrypto = 11,
}

export const SERVICE_NAMES = [
  'web',
  'tls',
  'dns',
  'mail',
  'vpn',
  'p2p',
  'misc',
  'scan',
  'stratum',
  'bitcoin-p2p',
  'misc-crypto-port',
  'scan-crypto-port',
];
export const ALL_SERVICES = SERVICE_NAMES.map((_, i) => i as Service);

/** Flows opened per host-hour at full intensity. */
const PEAK_RATE = [8, 30, 30, 1, 0.2, 6, 0.6, 0.05];

// Local-time diurnal intensity (index = hour) and weekly factor (index = 0 Monday .. 6 Sunday).
const OFFICE = [
  0.03, 0.03, 0.03, 0.03, 0.03, 0.05, 0.1, 0.4, 1, 1, 1, 1, 0.6, 1, 1, 1, 1, 1, 0.8, 0.4, 0.15, 0.15, 0.1,
  0.05,
];
const ELITE = [
  0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.15, 0.4, 0.8, 0.8, 0.8, 0.8, 0.6, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 1, 1,
  1, 0.8, 0.3,
];
const DIURNAL = { workstation: OFFICE, elite: ELITE, server: OFFICE.map((x) => 0.5 + 0.5 * x) };
const WEEKLY = {
  workstation: [1, 1, 1, 1, 1, 0.5, 0.15],
  elite: [1, 1, 1, 1, 1, 0.8, 0.7],
  server: [1, 1, 1, 1, 1, 0.8, 0.7],
};

/** Ports of ordinary "other" traffic; a few collide with crypto defaults, as in real networks. */
const MISC_PORTS = [8080, 8443, 1935, 5222, 3478, 8888, 6667, 7777, 9999, 3333, 4444, 5555];
const MISC_WEIGHTS = [30, 10, 5, 10, 10, 5, 2, 3, 3, 1, 1, 2];
const SCAN_PORTS = [22, 23, 80, 443, 445, 3389, 8080, 8333, 3333, 8332, 18080, 9999, 5555];
const SCAN_WEIGHTS = [20, 25, 10, 8, 10, 8, 6, 4, 3, 2, 1, 2, 1];
const CRYPTO_SET = new Set(CRYPTO_PORTS);
/** Share of misc/scan flows that use a crypto port: the knob `cryptoPortBackground` scales these. */
function splitWeights(ports: number[], weights: number[]) {
  let c = 0;
  let o = 0;
  ports.forEach((p, i) => (CRYPTO_SET.has(p) ? (c += weights[i]) : (o += weights[i])));
  return {
    crypto: c / (c + o),
    cryptoIdx: ports.map((p, i) => (CRYPTO_SET.has(p) ? i : -1)).filter((i) => i >= 0),
  };
}
const MISC_SPLIT = splitWeights(MISC_PORTS, MISC_WEIGHTS);
const SCAN_SPLIT = splitWeights(SCAN_PORTS, SCAN_WEIGHTS);

const HDR = 52; // IPv4 + TCP with timestamps
const HOUR = 3600000;
const DAY = 86400000;

/** Flows of one hour, columnar; sorted by start time through `order`. */
export class HourFlows {
  length = 0;
  capacity: number;
  firstMs: Float64Array;
  lastMs: Float64Array;
  src: Uint32Array;
  dst: Uint32Array;
  srcPort: Uint16Array;
  dstPort: Uint16Array;
  proto: Uint8Array;
  packets: Float64Array;
  bytes: Float64Array;
  revPackets: Float64Array;
  revBytes: Float64Array;
  tcpFlags: Uint8Array;
  service: Uint8Array;
  payloadFwd: (Buffer | null)[] = [];
  payloadRev: (Buffer | null)[] = [];
  order = new Int32Array(0);

  constructor(capacity = 4096) {
    this.capacity = capacity;
    this.firstMs = new Float64Array(capacity);
    this.lastMs = new Float64Array(capacity);
    this.src = new Uint32Array(capacity);
    this.dst = new Uint32Array(capacity);
    this.srcPort = new Uint16Array(capacity);
    this.dstPort = new Uint16Array(capacity);
    this.proto = new Uint8Array(capacity);
    this.packets = new Float64Array(capacity);
    this.bytes = new Float64Array(capacity);
    this.revPackets = new Float64Array(capacity);
    this.revBytes = new Float64Array(capacity);
    this.tcpFlags = new Uint8Array(capacity);
    this.service = new Uint8Array(capacity);
  }

  private grow(): void {
    const c = this.capacity * 2;
    const g = <T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(c);
      b.set(a);
      return b;
    };
    this.firstMs = g(this.firstMs, (n) => new Float64Array(n));
    this.lastMs = g(this.lastMs, (n) => new Float64Array(n));
    this.src = g(this.src, (n) => new Uint32Array(n));
    this.dst = g(this.dst, (n) => new Uint32Array(n));
    this.srcPort = g(this.srcPort, (n) => new Uint16Array(n));
    this.dstPort = g(this.dstPort, (n) => new Uint16Array(n));
    this.proto = g(this.proto, (n) => new Uint8Array(n));
    this.packets = g(this.packets, (n) => new Float64Array(n));
    this.bytes = g(this.bytes, (n) => new Float64Array(n));
    this.revPackets = g(this.revPackets, (n) => new Float64Array(n));
    this.revBytes = g(this.revBytes, (n) => new Float64Array(n));
    this.tcpFlags = g(this.tcpFlags, (n) => new Uint8Array(n));
    this.service = g(this.service, (n) => new Uint8Array(n));
    this.capacity = c;
  }

  push(
    svc: Service,
    firstMs: number,
    lastMs: number,
    src: number,
    dst: number,
    srcPort: number,
    dstPort: number,
    proto: number,
    packets: number,
    bytes: number,
    revPackets: number,
    revBytes: number,
    flags: number,
    payloadFwd: Buffer | null = null,
    payloadRev: Buffer | null = null,
  ): void {
    if (this.length >= this.capacity) this.grow();
    const i = this.length++;
    this.service[i] = svc;
    this.firstMs[i] = firstMs;
    this.lastMs[i] = lastMs;
    this.src[i] = src;
    this.dst[i] = dst;
    this.srcPort[i] = srcPort;
    this.dstPort[i] = dstPort;
    this.proto[i] = proto;
    this.packets[i] = packets;
    this.bytes[i] = bytes;
    this.revPackets[i] = revPackets;
    this.revBytes[i] = revBytes;
    this.tcpFlags[i] = flags;
    this.payloadFwd[i] = payloadFwd;
    this.payloadRev[i] = payloadRev;
  }

  clear(): void {
    this.length = 0;
    this.payloadFwd.length = 0;
    this.payloadRev.length = 0;
  }

  /** Order rows by start time (stable). */
  sort(): Int32Array {
    if (this.order.length < this.length) this.order = new Int32Array(this.capacity);
    const o = this.order.subarray(0, this.length);
    for (let i = 0; i < this.length; i++) o[i] = i;
    const t = this.firstMs;
    o.sort((a, b) => t[a] - t[b] || a - b);
    return o;
  }
}

/** Intensity of a host at a local hour and weekday, before the day factors. */
export function hostIntensity(h: Host, localHour: number, localDow: number): number {
  return h.activity * DIURNAL[h.role][localHour] * WEEKLY[h.role][localDow];
}

/**
 * Generates the flows of one hour for the chosen services. `sampling` thins packets 1:N per
 * direction as an exporter does; a flow with no sampled packet in either direction disappears.
 */
export class FlowModel {
  private readonly seed: number;
  private readonly offsetMs: number;
  private readonly cryptoScale: number;
  private readonly dayFactorCache = new Map<number, Float64Array>();
  private readonly on: boolean[];

  constructor(
    readonly world: World,
    readonly services: ReadonlySet<Service> = new Set(ALL_SERVICES),
  ) {
    this.seed = world.config.seed;
    this.offsetMs = world.config.utcOffsetHours * HOUR;
    this.cryptoScale = world.config.cryptoPortBackground;
    this.on = SERVICE_NAMES.map((_, i) => services.has(i as Service));
  }

  /** Whether the exporter saw nothing on this day. */
  outage(day: number): boolean {
    return new Rng(this.seed, 7, day).next() < this.world.config.outageRate;
  }

  /** Per-host day factors (gamma, mean 1) times a national day factor: day-to-day overdispersion. */
  private dayFactors(day: number): Float64Array {
    let f = this.dayFactorCache.get(day);
    if (f) return f;
    const g = new Rng(this.seed, 8, day);
    const national = g.gamma(50) / 50;
    f = new Float64Array(this.world.hosts.length);
    for (let i = 0; i < f.length; i++) f[i] = (national * new Rng(this.seed, 9, day, i).gamma(4)) / 4;
    if (this.dayFactorCache.size > 4) this.dayFactorCache.clear();
    this.dayFactorCache.set(day, f);
    return f;
  }

  /** Append every flow starting in the hour beginning at `hourMs` (UTC) to `out`. */
  hour(hourMs: number, out: HourFlows): void {
    const cfg = this.world.config;
    const day = Math.floor((hourMs - cfg.startMs) / DAY);
    if (this.outage(day)) return;
    const localMs = hourMs + this.offsetMs;
    const lh = Math.floor(localMs / HOUR) % 24;
    // 1 January 1970 was a Thursday: index 3 with Monday = 0.
    const ldow = (Math.floor(localMs / DAY) + 3) % 7;
    const hourOfDay = Math.floor(hourMs / HOUR) % 24;
    const factors = this.dayFactors(day);
    const on = this.on;
    const scanRate = PEAK_RATE[Service.Scan] * (1 - SCAN_SPLIT.crypto);
    const scanCryptoRate = PEAK_RATE[Service.Scan] * SCAN_SPLIT.crypto * this.cryptoScale;
    for (const h of this.world.hosts) {
      const base = hostIntensity(h, lh, ldow) * factors[h.index];
      for (let s = Service.Web; s <= Service.Misc; s++) {
        if (!on[s] || (s === Service.P2p && !h.p2p)) continue;
        let rate = PEAK_RATE[s] * base;
        if (s === Service.Mail && h.role === 'server') rate *= 3;
        if (s === Service.Misc) rate *= 1 - MISC_SPLIT.crypto;
        this.draw(s, h, day, hourOfDay, hourMs, rate, out);
      }
      if (on[Service.MiscCrypto]) {
        this.draw(
          Service.MiscCrypto,
          h,
          day,
          hourOfDay,
          hourMs,
          PEAK_RATE[Service.Misc] * base * MISC_SPLIT.crypto * this.cryptoScale,
          out,
        );
      }
      // Internet-wide scanners do not keep office hours.
      if (on[Service.Scan]) this.draw(Service.Scan, h, day, hourOfDay, hourMs, scanRate, out);
      if (on[Service.ScanCrypto])
        this.draw(Service.ScanCrypto, h, day, hourOfDay, hourMs, scanCryptoRate, out);
      const c = this.world.cryptoByHost.get(h.index);
      if (c && hourMs >= c.startMs) {
        if (c.kind === 'miner' && on[Service.Stratum]) this.stratum(c, h, hourMs, day, out);
        if (c.kind === 'btc-node' && on[Service.BtcP2p]) this.btcNode(c, hourMs, day, out);
      }
    }
  }

  private draw(
    s: Service,
    h: Host,
    day: number,
    hourOfDay: number,
    hourMs: number,
    rate: number,
    out: HourFlows,
  ): void {
    if (rate <= 0) return;
    const rng = new Rng(this.seed, 100 + s, h.index, day, hourOfDay);
    const n = rng.poisson(rate);
    for (let k = 0; k < n; k++) {
      if (s === Service.Scan || s === Service.ScanCrypto)
        this.scan(h, hourMs, rng, out, s === Service.ScanCrypto);
      else this.background(s, h, hourMs, rng, out);
    }
  }

  private ephemeral(rng: Rng): number {
    return rng.int(32768, 60999);
  }

  /** Apply 1:N packet sampling and push. */
  private emit(
    out: HourFlows,
    rng: Rng,
    s: Service,
    first: number,
    last: number,
    src: number,
    dst: number,
    sport: number,
    dport: number,
    proto: number,
    pk: number,
    by: number,
    rpk: number,
    rby: number,
    flags: number,
    pf: Buffer | null = null,
    pr: Buffer | null = null,
  ): void {
    const n = this.world.config.sampling;
    if (n > 1) {
      const spk = rng.binomial(pk, 1 / n);
      const srpk = rng.binomial(rpk, 1 / n);
      if (spk === 0 && srpk === 0) return;
      by = pk > 0 ? Math.round((by * spk) / pk) : 0;
      rby = rpk > 0 ? Math.round((rby * srpk) / rpk) : 0;
      pk = spk;
      rpk = srpk;
      // A sampled exporter sees a packet, not the session start: payload samples go with it.
      pf = null;
      pr = null;
    }
    out.push(s, first, last, src, dst, sport, dport, proto, pk, by, rpk, rby, flags, pf, pr);
  }

  private background(s: Service, h: Host, hourMs: number, rng: Rng, out: HourFlows): void {
    const t0 = hourMs + Math.floor(rng.next() * HOUR);
    let dst: number;
    let dport: number;
    let proto = 6;
    let pk: number;
    let by: number;
    let rpk: number;
    let rby: number;
    let dur: number;
    let flags = TCP_SYN | TCP_ACK | TCP_PSH | TCP_FIN;
    let pf: Buffer | null = null;
    const pr: Buffer | null = null;
    switch (s) {
      case Service.Web:
      case Service.Tls: {
        dst = pickInCidr(rng, rng.pick(OUTSIDE.web).cidr);
        dport = s === Service.Web ? 80 : 443;
        pk = Math.max(3, Math.round(rng.lognormal(s === Service.Web ? 8 : 12, 0.8)));
        rpk = Math.max(2, Math.round(pk * rng.uniform(1.1, 2.5)));
        by = pk * HDR + Math.round(rng.uniform(300, 900));
        rby = rpk * HDR + Math.round(rpk * rng.uniform(600, 1400));
        dur = rng.lognormal(s === Service.Web ? 2000 : 6000, 1);
        if (h.payload) {
          pf =
            s === Service.Web
              ? Buffer.from(
                  `GET / HTTP/1.1\r\nHost: ${dst >>> 24}.example\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\n\r\n`,
                )
              : Buffer.from([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03]);
        }
        break;
      }
      case Service.Dns:
        dst = pickInCidr(rng, rng.pick(OUTSIDE.dns).cidr);
        dport = 53;
        proto = 17;
        pk = 1;
        rpk = rng.next() < 0.97 ? 1 : 0;
        by = 28 + Math.round(rng.uniform(30, 60));
        rby = rpk * (28 + Math.round(rng.uniform(60, 300)));
        dur = rng.uniform(5, 80);
        flags = 0;
        break;
      case Service.Mail:
        dst = pickInCidr(rng, rng.pick(OUTSIDE.mail).cidr);
        dport = rng.pick([25, 587, 993, 993]);
        pk = Math.max(5, Math.round(rng.lognormal(20, 0.7)));
        rpk = Math.max(4, Math.round(pk * rng.uniform(0.8, 1.5)));
        by = pk * HDR + Math.round(pk * rng.uniform(100, 800));
        rby = rpk * HDR + Math.round(rpk * rng.uniform(100, 800));
        dur = rng.lognormal(3000, 0.8);
        break;
      case Service.Vpn:
        dst = pickInCidr(rng, rng.pick(OUTSIDE.vpn).cidr);
        dport = rng.pick([1194, 4500, 500]);
        proto = 17;
        pk = Math.max(20, Math.round(rng.lognormal(2000, 1)));
        rpk = Math.round(pk * rng.uniform(1, 2));
        by = pk * 28 + Math.round(pk * rng.uniform(80, 400));
        rby = rpk * 28 + Math.round(rpk * rng.uniform(200, 1200));
        dur = Math.min(3600000, rng.lognormal(600000, 1));
        flags = 0;
        break;
      case Service.P2p:
        dst = pickInCidr(rng, rng.pick(OUTSIDE.p2p).cidr);
        dport = rng.int(10000, 65000);
        if (CRYPTO_SET.has(dport)) dport++;
        proto = rng.next() < 0.6 ? 6 : 17;
        pk = Math.max(2, Math.round(rng.lognormal(30, 1.2)));
        rpk = Math.max(1, Math.round(pk * rng.uniform(0.5, 3)));
        by = pk * HDR + Math.round(pk * rng.uniform(50, 600));
        rby = rpk * HDR + Math.round(rpk * rng.uniform(100, 1300));
        dur = rng.lognormal(20000, 1.2);
        if (proto === 17) flags = 0;
        break;
      default: {
        // Misc: ordinary ports, or (MiscCrypto) ports that collide with crypto defaults.
        dst = pickInCidr(rng, rng.pick(OUTSIDE.misc).cidr);
        const crypto = s === Service.MiscCrypto;
        let idx = rng.weighted(MISC_WEIGHTS);
        while (CRYPTO_SET.has(MISC_PORTS[idx]) !== crypto) idx = rng.weighted(MISC_WEIGHTS);
        dport = MISC_PORTS[idx];
        pk = Math.max(2, Math.round(rng.lognormal(15, 1)));
        rpk = Math.max(1, Math.round(pk * rng.uniform(0.6, 2)));
        by = pk * HDR + Math.round(pk * rng.uniform(50, 500));
        rby = rpk * HDR + Math.round(rpk * rng.uniform(100, 1000));
        dur = rng.lognormal(8000, 1);
      }
    }
    this.emit(
      out,
      rng,
      s,
      t0,
      t0 + Math.round(dur),
      h.ip,
      dst,
      this.ephemeral(rng),
      dport,
      proto,
      pk,
      by,
      rpk,
      rby,
      flags,
      pf,
      pr,
    );
  }

  private scan(h: Host, hourMs: number, rng: Rng, out: HourFlows, crypto: boolean): void {
    const t0 = hourMs + Math.floor(rng.next() * HOUR);
    const src = pickInCidr(rng, rng.pick(OUTSIDE.scan).cidr);
    let idx = rng.weighted(SCAN_WEIGHTS);
    while (CRYPTO_SET.has(SCAN_PORTS[idx]) !== crypto) idx = rng.weighted(SCAN_WEIGHTS);
    const answered = rng.next() < 0.3;
    const pk = rng.next() < 0.2 ? 2 : 1;
    this.emit(
      out,
      rng,
      crypto ? Service.ScanCrypto : Service.Scan,
      t0,
      t0 + (pk - 1) * 1000,
      src,
      h.ip,
      rng.int(1024, 65535),
      SCAN_PORTS[idx],
      6,
      pk,
      pk * 44,
      answered ? 1 : 0,
      answered ? 40 : 0,
      answered ? TCP_SYN | TCP_RST | TCP_ACK : TCP_SYN,
    );
  }

  /**
   * A miner keeps one Stratum connection per day; the exporter cuts it into records at the active
   * timeout. Packet counts follow the share cadence (hash rate / difficulty) and the pool's jobs.
   */
  private stratum(c: CryptoHost, h: Host, hourMs: number, day: number, out: HourFlows): void {
    const cfg = this.world.config;
    const pool = c.pool!;
    const win = cfg.activeTimeoutS * 1000;
    const dayStart = cfg.startMs + day * DAY;
    const sport = 32768 + (new Rng(this.seed, 20, c.host, day).u32() % 28000);
    const sizes = STRATUM_SIZES[c.coin];
    const jobEveryS = c.coin === 'BTC' ? 40 : 60;
    for (
      let w0 = dayStart + Math.ceil((hourMs - dayStart) / win) * win;
      w0 < hourMs + HOUR && w0 < dayStart + DAY;
      w0 += win
    ) {
      if (w0 < c.startMs) continue;
      const widx = Math.round((w0 - dayStart) / win);
      const rng = new Rng(this.seed, 21, c.host, day, widx);
      const w1 = Math.min(w0 + win, dayStart + DAY) - 1;
      const seconds = (w1 - w0) / 1000;
      const shares = rng.poisson(seconds / c.shareIntervalS!);
      const jobs = rng.poisson(seconds / jobEveryS);
      const first = w0 === dayStart || w0 === c.startMs;
      const lastWin = w0 + win >= dayStart + DAY;
      // Client: one segment per share, an ACK per job, a keepalive ACK every ~2 min.
      let pk = shares + jobs + Math.round(seconds / 120);
      let by = pk * HDR + shares * sizes.submit;
      // Pool: a job per notify, a result per share (half of the ACKs ride on them).
      let rpk = jobs + shares + Math.round(shares / 2);
      let rby = rpk * HDR + jobs * sizes.notify + shares * sizes.result;
      let flags = TCP_ACK | TCP_PSH;
      if (first) {
        pk += 3;
        rpk += 3;
        by += 3 * HDR + sizes.hello;
        rby += 3 * HDR + sizes.helloReply;
        flags |= TCP_SYN;
      }
      if (lastWin) flags |= TCP_FIN;
      let pf: Buffer | null = null;
      let pr: Buffer | null = null;
      if (h.payload) [pf, pr] = this.stratumPayload(c, rng, first, w0, shares);
      this.emit(
        out,
        rng,
        Service.Stratum,
        w0 + rng.int(0, 999),
        w1,
        c.ip,
        pool.ip,
        sport,
        pool.port,
        6,
        pk,
        by,
        rpk,
        rby,
        flags,
        pf,
        pr,
      );
    }
  }

  private stratumPayload(
    c: CryptoHost,
    rng: Rng,
    first: boolean,
    t: number,
    shares: number,
  ): [Buffer, Buffer] {
    const id: StratumIdentity = {
      coin: c.coin,
      wallet: c.wallet!,
      worker: c.worker!,
      difficulty: c.difficulty!,
    };
    const fwd: string[] = first ? clientHello(id, rng) : [];
    const rev: string[] = first
      ? poolHello(id, rng, 1)
      : [c.coin === 'BTC' ? btcNotify(rng, 2, false) : xmrJob(id, rng, 2)];
    for (let k = 0; k < Math.min(shares, 8); k++) {
      fwd.push(submit(id, rng, 10 + k, 1, Math.floor(t / 1000)));
      rev.push(submitResult(c.coin, 10 + k));
    }
    const cap = (lines: string[]) => Buffer.from(lines.map((l) => l + '\n').join('')).subarray(0, 2048);
    return [cap(fwd), cap(rev)];
  }

  /** A Bitcoin node keeps 8-10 outbound peers; the first days are the initial block download. */
  private btcNode(c: CryptoHost, hourMs: number, day: number, out: HourFlows): void {
    const cfg = this.world.config;
    const win = cfg.activeTimeoutS * 1000;
    const dayStart = cfg.startMs + day * DAY;
    const syncing = hourMs < c.startMs + 2 * DAY;
    const peers = c.peers!;
    for (
      let w0 = dayStart + Math.ceil((hourMs - dayStart) / win) * win;
      w0 < hourMs + HOUR && w0 < dayStart + DAY;
      w0 += win
    ) {
      if (w0 < c.startMs) continue;
      const widx = Math.round((w0 - dayStart) / win);
      for (let p = 0; p < peers.length; p++) {
        const rng = new Rng(this.seed, 30, c.host, day, widx * 16 + p);
        const sport = 32768 + (new Rng(this.seed, 31, c.host, day, p).u32() % 28000);
        const w1 = Math.min(w0 + win, dayStart + DAY) - 1;
        const blocksBytes = syncing
          ? rng.uniform(50e6, 150e6) / peers.length
          : (rng.poisson(3) / peers.length) * 1.0e6;
        const rby0 = Math.round(rng.uniform(200e3, 600e3) + blocksBytes);
        const rpk = Math.round(rby0 / 1200) + rng.poisson(300);
        const pk = Math.round(rpk * 0.5) + rng.poisson(200);
        const by = pk * HDR + Math.round(rng.uniform(50e3, 200e3));
        const rby = rpk * HDR + rby0;
        let flags = TCP_ACK | TCP_PSH;
        if (w0 === dayStart || w0 === c.startMs) flags |= TCP_SYN;
        this.emit(
          out,
          rng,
          Service.BtcP2p,
          w0 + rng.int(0, 999),
          w1,
          c.ip,
          peers[p].ip,
          sport,
          8333,
          6,
          pk,
          by,
          rpk,
          rby,
          flags,
        );
      }
    }
  }
}

/** Services that can put a flow on one of `ports` as its server (destination) port. */
export function servicesForPorts(ports: readonly number[]): Set<Service> {
  const s = new Set<Service>();
  const set = new Set(ports);
  if (set.has(80)) s.add(Service.Web);
  if (set.has(443)) s.add(Service.Tls);
  if (set.has(53)) s.add(Service.Dns);
  if ([25, 587, 993].some((p) => set.has(p))) s.add(Service.Mail);
  if ([1194, 4500, 500].some((p) => set.has(p))) s.add(Service.Vpn);
  // P2P peers listen on random high ports other than the crypto defaults.
  if (ports.some((p) => p >= 10000 && !CRYPTO_SET.has(p))) s.add(Service.P2p);
  if (MISC_PORTS.some((p) => set.has(p) && !CRYPTO_SET.has(p))) s.add(Service.Misc);
  if (MISC_PORTS.some((p) => set.has(p) && CRYPTO_SET.has(p))) s.add(Service.MiscCrypto);
  if (SCAN_PORTS.some((p) => set.has(p) && !CRYPTO_SET.has(p))) s.add(Service.Scan);
  if (SCAN_PORTS.some((p) => set.has(p) && CRYPTO_SET.has(p))) s.add(Service.ScanCrypto);
  // Pools listen on many ports (3333, 443, 25 ...): any port set may catch Stratum; so may 8333.
  s.add(Service.Stratum);
  if (set.has(8333)) s.add(Service.BtcP2p);
  return s;
}

const OUTSIDE_SERVICE: [keyof typeof OUTSIDE, Service[]][] = [
  ['web', [Service.Web, Service.Tls]],
  ['dns', [Service.Dns]],
  ['mail', [Service.Mail]],
  ['vpn', [Service.Vpn]],
  ['p2p', [Service.P2p]],
  ['misc', [Service.Misc, Service.MiscCrypto]],
  ['scan', [Service.Scan, Service.ScanCrypto]],
];

/** Services that can send a flow to one of these IPv4 addresses. */
export function servicesForAddresses(ips: readonly number[]): Set<Service> {
  const s = new Set<Service>();
  if (ips.length === 0) return s;
  s.add(Service.Stratum);
  s.add(Service.BtcP2p);
  for (const [name, svcs] of OUTSIDE_SERVICE) {
    for (const o of OUTSIDE[name]) {
      const { base, size } = parseCidr(o.cidr);
      if (ips.some((ip) => ip >= base && ip < base + size)) for (const x of svcs) s.add(x);
    }
  }
  return s;
}
