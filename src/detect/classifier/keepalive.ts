/**
 * Long-lived channels that are not mining, for training: the real captures of ordinary traffic
 * last seconds to minutes, but the flows that fooled the old rules on an office network were
 * hours-long keep-alives (MQTT over TLS, push channels). Each family draws its parameters from
 * published defaults (ranges below), seeded; the tests use their own hand-written patterns.
 */
import type { FlowBatch } from '../../flow/record.js';
import { Rng } from '../../scenario/rng.js';
import { inEveryFormat, sessionRun, type Exchange, type SynthConnection } from './synth.js';

/** Families in the training data (dataset.ts). */
export const KEEPALIVE_FAMILIES = ['mqtt', 'push', 'vpn-tcp', 'websocket', 'ssh-idle', 'imap-idle'] as const;
/**
 * Families never trained on, only scored (heldout.ts): they test the model on shapes it has not
 * seen. Listed after the trained ones because a family's index seeds its generator.
 */
export const HELD_OUT_FAMILIES = ['vpn-tcp-idle', 'ssh-busy', 'chat'] as const;
export type KeepaliveFamily = (typeof KEEPALIVE_FAMILIES)[number] | (typeof HELD_OUT_FAMILIES)[number];
/**
 * A family's index seeds its generator and numbers its addresses: families added later go last,
 * so the others' connections stay the same.
 */
const ALL_FAMILIES: readonly KeepaliveFamily[] = [...KEEPALIVE_FAMILIES, ...HELD_OUT_FAMILIES];

const HOUR = 3_600_000;

interface Shape {
  ports: number[];
  /** Heartbeat period range (s): MQTT keepalive 30–300 (60 default), push 240–1800, ... */
  period: [number, number];
  /** Heartbeat IP bytes each way. */
  beat: [number, number];
  /** Extra messages per hour (Poisson) and their size range; direction share up. */
  extraPerHour: number;
  extra: [number, number];
  extraUp: number;
  /** Hours a connection lives before reconnecting. */
  life: [number, number];
  /** Whether the heartbeat is sent by the client (else the server pings). */
  clientPings: boolean;
  /**
   * Both ends ping on their own clocks (OpenVPN's `ping n` runs on each side) instead of one
   * answering the other.
   */
  bothPing?: boolean;
  /**
   * Conversations instead of (besides) the Poisson extras: `perHour` bursts (Poisson), each of
   * `messages` messages with exponential gaps of mean `gapS` seconds (drawn per burst).
   */
  bursts?: { perHour: number; messages: [number, number]; gapS: [number, number] };
}

const SHAPES: Record<KeepaliveFamily, Shape> = {
  // MQTT PINGREQ/PINGRESP inside TLS records (~31 B of TLS each), telemetry publishes.
  mqtt: {
    ports: [8883, 1883, 443],
    period: [30, 300],
    beat: [70, 110],
    extraPerHour: 12,
    extra: [150, 900],
    extraUp: 0.7,
    life: [2, 12],
    clientPings: true,
  },
  // Push channels (FCM 5228, APNs 5223, vendor pushes on 443): rare heartbeats, notifications down.
  push: {
    ports: [443, 5223, 5228],
    period: [240, 1800],
    beat: [80, 140],
    extraPerHour: 6,
    extra: [300, 2500],
    extraUp: 0.1,
    life: [1, 8],
    clientPings: true,
  },
  // OpenVPN over TCP: ping every 10 s both ways, user traffic in bursts.
  'vpn-tcp': {
    ports: [443, 1194],
    period: [5, 15],
    beat: [90, 130],
    extraPerHour: 120,
    extra: [200, 1400],
    extraUp: 0.4,
    life: [1, 10],
    clientPings: true,
  },
  // WebSocket heartbeats (socket.io 25 s, others 30–60 s), small JSON events down.
  websocket: {
    ports: [443, 80],
    period: [20, 60],
    beat: [60, 100],
    extraPerHour: 30,
    extra: [120, 800],
    extraUp: 0.3,
    life: [0.5, 6],
    clientPings: false,
  },
  // SSH ServerAliveInterval 15–120 s, a little typing.
  'ssh-idle': {
    ports: [22],
    period: [15, 120],
    beat: [100, 140],
    extraPerHour: 20,
    extra: [90, 300],
    extraUp: 0.5,
    life: [1, 10],
    clientPings: true,
  },
  // IMAP IDLE: re-issued every ~29 min, new-mail notices down.
  'imap-idle': {
    ports: [993, 143],
    period: [600, 1740],
    beat: [90, 150],
    extraPerHour: 4,
    extra: [200, 1200],
    extraUp: 0.2,
    life: [2, 12],
    clientPings: true,
  },
  // OpenVPN over TCP with an idle tunnel: each end sends its own ping when it has sent nothing
  // for `ping n` s (keepalive 10 60 is the common server push; 5–60 s seen in configs), sizes
  // from a bare ping to tls-crypt/HMAC overhead, and only a few tunnelled packets an hour.
  'vpn-tcp-idle': {
    ports: [443, 1194],
    period: [5, 60],
    beat: [80, 170],
    extraPerHour: 4,
    extra: [90, 600],
    extraUp: 0.5,
    life: [1, 12],
    clientPings: true,
    bothPing: true,
  },
  // SSH with keep-alives (ServerAliveInterval 15–120 s) and background output (a `tail -f`, a
  // build log): small bursts down at a few a minute.
  'ssh-busy': {
    ports: [22],
    period: [15, 120],
    beat: [100, 140],
    extraPerHour: 240,
    extra: [80, 700],
    extraUp: 0.2,
    life: [0.5, 8],
    clientPings: true,
  },
  // Messaging over a long-lived TLS connection (XMPP 5222/5223, WhatsApp-style 443): a ping every
  // 1–5 min, and conversations — bursts of short messages seconds apart, then silence. Record
  // counts vary as shares' do or more (a record with a conversation, one without): held out, it
  // is a family the model confuses with slow miners (docs/detection-rules.md).
  chat: {
    ports: [443, 5222, 5223],
    period: [60, 280],
    beat: [60, 110],
    extraPerHour: 2,
    extra: [150, 900],
    extraUp: 0.5,
    life: [1, 12],
    clientPings: true,
    bursts: { perHour: 3, messages: [3, 40], gapS: [3, 30] },
  },
};

/** Connections of a family: a few clients, each a run of connections over `hours`. */
export function keepaliveConnections(family: KeepaliveFamily, seed: number, hours = 6): SynthConnection[] {
  const s = SHAPES[family];
  const fam = ALL_FAMILIES.indexOf(family);
  const out: SynthConnection[] = [];
  const t00 = Date.UTC(2024, 0, 8);
  for (let client = 0; client < 4; client++) {
    const rng = new Rng(seed, 40, fam, client);
    const port = s.ports[rng.int(0, s.ports.length - 1)];
    const period = rng.uniform(s.period[0], s.period[1]) * 1000;
    const addr = {
      client: `10.${fam}.${seed % 250}.${10 + client}`,
      server: `198.51.100.${10 + fam * 10 + client}`,
    };
    const fill = (t: number, end: number) => {
      const ex: Exchange[] = [];
      for (let b = t + period * rng.uniform(0.9, 1.1); b < end; b += period * rng.uniform(0.97, 1.03)) {
        const size = rng.uniform(s.beat[0], s.beat[1]);
        ex.push({ t: b, up: s.clientPings, bytes: Math.round(size) });
        if (!s.bothPing)
          ex.push({ t: b + rng.uniform(20, 200), up: !s.clientPings, bytes: Math.round(size) });
      }
      // The other end's own pings: same nominal period, its own phase and drift.
      if (s.bothPing)
        for (let b = t + period * rng.uniform(0, 1); b < end; b += period * rng.uniform(0.97, 1.03))
          ex.push({ t: b, up: !s.clientPings, bytes: Math.round(rng.uniform(s.beat[0], s.beat[1])) });
      if (s.bursts) {
        const b = s.bursts;
        const n = rng.poisson((b.perHour * (end - t)) / HOUR);
        for (let k = 0; k < n; k++) {
          const gap = rng.uniform(b.gapS[0], b.gapS[1]) * 1000;
          let m = rng.uniform(t, end);
          for (let j = rng.int(b.messages[0], b.messages[1]); j > 0 && m < end; j--) {
            ex.push({ t: m, up: rng.next() < 0.5, bytes: Math.round(rng.uniform(s.extra[0], s.extra[1])) });
            m += rng.exponential(1 / gap);
          }
        }
      }
      const extras = rng.poisson((s.extraPerHour * (end - t)) / HOUR);
      for (let k = 0; k < extras; k++)
        ex.push({
          t: rng.uniform(t, end),
          up: rng.next() < s.extraUp,
          bytes: Math.round(rng.uniform(s.extra[0], s.extra[1])),
        });
      return ex;
    };
    out.push(
      ...sessionRun(
        rng,
        addr,
        port,
        t00 + rng.uniform(0, 600_000),
        t00 + hours * HOUR,
        () => rng.uniform(s.life[0], s.life[1]) * HOUR,
        fill,
        () => rng.uniform(1000, 60_000),
      ),
    );
  }
  return out;
}

/** The family's connections in every telemetry format. */
export function keepaliveBatches(family: KeepaliveFamily, seed: number): [string, FlowBatch[]][] {
  return inEveryFormat(keepaliveConnections(family, seed));
}
