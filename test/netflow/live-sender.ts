// A paced NetFlow v9 sender for the live-collector tests: flow j has the source address
// 10.0.0.0 + j (unique up to 2^24 flows), so the flows a store holds can be counted exactly, and
// every datagram's send time is kept so a test can say which flows were sent before a moment.
import { createSocket, type Socket } from 'node:dgram';
import { BENCH_V9_FIELDS, dataSet, encodeRecord, templateSet, v9Packet } from '../../src/netflow/encode.js';

const FIELDS = BENCH_V9_FIELDS;
const TEMPLATE = templateSet(true, [{ id: 256, fields: FIELDS }]);

export const flowAddress = (j: number) => `10.${(j >>> 16) & 255}.${(j >>> 8) & 255}.${j & 255}`;

/** The flow number of a stored source address (inverse of flowAddress). */
export function flowNumber(src: string): number {
  const [, a, b, c] = src.split('.').map(Number);
  return (a << 16) | (b << 8) | c;
}

/**
 * Datagrams k = from … to-1 of one stream (`per` flows each, v9Datagram from flow 0) to a loopback
 * port, each sent once the previous one is, sequence numbers in sending order; `gapMs` between them.
 */
export function v9Stream(port: number, per: number, gapMs = 0) {
  const sock = createSocket('udp4');
  let seq = 0;
  return {
    async send(from: number, to = from + 1): Promise<void> {
      for (let k = from; k < to; k++) {
        await new Promise<void>((res, rej) =>
          sock.send(v9Datagram(0, k, per, seq++), port, '127.0.0.1', (e) => (e ? rej(e) : res())),
        );
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    },
    close: () => sock.close(),
  };
}

/** Datagram k of a stream starting at flow `first`: flows first + k*per … +per-1, template included. */
export function v9Datagram(first: number, k: number, per: number, seq: number): Buffer {
  const recs: Buffer[] = [];
  for (let r = 0; r < per; r++) {
    const j = first + k * per + r;
    // src, dst, last/first switched, bytes, packets, snmp in/out, ports, proto, flags, IP version, ToS
    const values = [
      flowAddress(j),
      '192.0.2.1',
      1000,
      900,
      64,
      1,
      0,
      0,
      1024 + (j % 60000),
      8333,
      6,
      0x1b,
      4,
      0,
    ];
    recs.push(encodeRecord(FIELDS, values));
  }
  // The template in every datagram: a lost or refused datagram never leaves later data undecodable.
  return v9Packet({ sysUptime: 1000, unixSecs: 1700000000, seq, sourceId: 1 }, [
    TEMPLATE,
    dataSet(256, recs, true),
  ]);
}

export class PacedSender {
  readonly sock: Socket;
  /** Flows sent so far (from `first`), and the time each datagram's send completed. */
  sent = 0;
  private readonly sentAt: number[] = [];
  private stopped = false;

  constructor(
    private readonly port: number,
    readonly first: number,
    readonly perDatagram = 20,
  ) {
    this.sock = createSocket('udp4');
  }

  /**
   * Send `flows` flows (rounded up to whole datagrams) at `flowsPerSecond`, in 10 ms steps, until
   * done or stop(); `maxMs` bounds it in time whatever happens.
   */
  async run(flows: number, flowsPerSecond: number, maxMs = 60000): Promise<void> {
    const k0 = this.sentAt.length;
    const datagrams = k0 + Math.ceil(flows / this.perDatagram);
    const perStep = Math.max(1, Math.round((flowsPerSecond / this.perDatagram) * 0.01));
    const t0 = Date.now();
    let k = k0;
    while (!this.stopped && k < datagrams && Date.now() - t0 < maxMs) {
      const due = Math.min(datagrams, k0 + Math.floor(((Date.now() - t0) / 10 + 1) * perStep));
      while (k < due && !this.stopped) {
        const d = v9Datagram(this.first, k, this.perDatagram, k);
        await new Promise<void>((res, rej) =>
          this.sock.send(d, this.port, '127.0.0.1', (e) => (e ? rej(e) : res())),
        );
        this.sentAt.push(Date.now());
        this.sent += this.perDatagram;
        k++;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** How many flows (from `first`) had their datagram sent at or before `ms`. */
  sentBy(ms: number): number {
    let n = 0;
    while (n < this.sentAt.length && this.sentAt[n] <= ms) n++;
    return n * this.perDatagram;
  }

  close(): void {
    this.sock.close();
  }
}
