/**
 * A small NetFlow v5 / v9 / IPFIX encoder: builds export datagrams from templates and values. Used
 * by the tests (every time encoding, counter width, bad input) and the benchmarks (a generated v9
 * stream); not on any hot path.
 */
import { writeIp } from '../flow/record.js';
import { VARLEN, type TemplateField } from './plan.js';

/** A field value: number/bigint (unsigned, big-endian), address text, or raw bytes. */
export type FieldValue = number | bigint | string | Buffer;

export function field(id: number, length: number, pen = 0): TemplateField {
  return { id, length, pen };
}

function writeUint(out: Buffer, p: number, len: number, v: number | bigint): void {
  let x = BigInt(v);
  for (let k = len - 1; k >= 0; k--) {
    out[p + k] = Number(x & 0xffn);
    x >>= 8n;
  }
}

/** One data record laid out by `fields`. */
export function encodeRecord(fields: TemplateField[], values: FieldValue[]): Buffer {
  const parts: Buffer[] = [];
  fields.forEach((f, k) => {
    const v = values[k];
    if (f.length === VARLEN) {
      const raw = Buffer.isBuffer(v) ? v : Buffer.from(String(v));
      const head =
        raw.length < 255 ? Buffer.from([raw.length]) : Buffer.from([255, raw.length >> 8, raw.length & 0xff]);
      parts.push(head, raw);
      return;
    }
    const out = Buffer.alloc(f.length);
    if (Buffer.isBuffer(v)) v.copy(out, 0, 0, f.length);
    else if (typeof v === 'string') {
      const ip = new Uint8Array(16);
      const ver = writeIp(ip, 0, v);
      out.set(ip.subarray(0, ver === 4 ? 4 : 16).subarray(0, f.length));
    } else writeUint(out, 0, f.length, v ?? 0);
    parts.push(out);
  });
  return Buffer.concat(parts);
}

function setHeader(id: number, body: Buffer, pad4: boolean): Buffer {
  const padLen = pad4 ? (4 - ((body.length + 4) % 4)) % 4 : 0;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(body.length + 4 + padLen, 2);
  return Buffer.concat([h, body, Buffer.alloc(padLen)]);
}

function fieldSpecs(fields: TemplateField[], v9: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const enterprise = !v9 && f.pen !== 0;
    const b = Buffer.alloc(enterprise ? 8 : 4);
    b.writeUInt16BE(enterprise ? f.id | 0x8000 : f.id, 0);
    b.writeUInt16BE(f.length, 2);
    if (enterprise) b.writeUInt32BE(f.pen, 4);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

export interface TemplateDef {
  id: number;
  fields: TemplateField[];
  /** Options templates: the first `scope` fields are scope fields. */
  scope?: number;
}

/** A template set (v9 flowset 0 / IPFIX set 2) or, with `options`, an options template set (1 / 3). */
export function templateSet(v9: boolean, templates: TemplateDef[], options = false): Buffer {
  const parts: Buffer[] = [];
  for (const t of templates) {
    if (options) {
      const scope = t.scope ?? 1;
      if (v9) {
        const h = Buffer.alloc(6);
        h.writeUInt16BE(t.id, 0);
        h.writeUInt16BE(scope * 4, 2);
        h.writeUInt16BE((t.fields.length - scope) * 4, 4);
        parts.push(h, fieldSpecs(t.fields, v9));
      } else {
        const h = Buffer.alloc(6);
        h.writeUInt16BE(t.id, 0);
        h.writeUInt16BE(t.fields.length, 2);
        h.writeUInt16BE(scope, 4);
        parts.push(h, fieldSpecs(t.fields, v9));
      }
    } else {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(t.id, 0);
      h.writeUInt16BE(t.fields.length, 2);
      parts.push(h, fieldSpecs(t.fields, v9));
    }
  }
  return setHeader(v9 ? (options ? 1 : 0) : options ? 3 : 2, Buffer.concat(parts), v9);
}

/** IPFIX template withdrawal (field count 0); `id` 2 or 3 withdraws all (options) templates. */
export function withdrawalSet(ids: number[], options = false): Buffer {
  const body = Buffer.alloc(ids.length * 4);
  ids.forEach((id, k) => body.writeUInt16BE(id, k * 4));
  return setHeader(options ? 3 : 2, body, false);
}

/** A data set of already-encoded records (v9 pads it to 4 bytes). */
export function dataSet(templateId: number, records: Buffer[], v9 = false): Buffer {
  return setHeader(templateId, Buffer.concat(records), v9);
}

export function v9Packet(
  h: { sysUptime: number; unixSecs: number; seq?: number; sourceId?: number; count?: number },
  sets: Buffer[],
): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt16BE(9, 0);
  head.writeUInt16BE(h.count ?? sets.length, 2);
  head.writeUInt32BE(h.sysUptime >>> 0, 4);
  head.writeUInt32BE(h.unixSecs >>> 0, 8);
  head.writeUInt32BE((h.seq ?? 0) >>> 0, 12);
  head.writeUInt32BE((h.sourceId ?? 0) >>> 0, 16);
  return Buffer.concat([head, ...sets]);
}

export function ipfixMessage(
  h: { exportSecs: number; seq?: number; domain?: number },
  sets: Buffer[],
): Buffer {
  const body = Buffer.concat(sets);
  const head = Buffer.alloc(16);
  head.writeUInt16BE(10, 0);
  head.writeUInt16BE(16 + body.length, 2);
  head.writeUInt32BE(h.exportSecs >>> 0, 4);
  head.writeUInt32BE((h.seq ?? 0) >>> 0, 8);
  head.writeUInt32BE((h.domain ?? 0) >>> 0, 12);
  return Buffer.concat([head, body]);
}

export interface V5Flow {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  proto: number;
  packets: number;
  bytes: number;
  /** sysUpTime-relative first/last (ms). */
  first: number;
  last: number;
  tcpFlags?: number;
}

export function v5Packet(
  h: {
    sysUptime: number;
    unixSecs: number;
    unixNsecs?: number;
    seq?: number;
    engineType?: number;
    engineId?: number;
    samplingInterval?: number;
  },
  flows: V5Flow[],
): Buffer {
  const out = Buffer.alloc(24 + 48 * flows.length);
  out.writeUInt16BE(5, 0);
  out.writeUInt16BE(flows.length, 2);
  out.writeUInt32BE(h.sysUptime >>> 0, 4);
  out.writeUInt32BE(h.unixSecs >>> 0, 8);
  out.writeUInt32BE(h.unixNsecs ?? 0, 12);
  out.writeUInt32BE(h.seq ?? 0, 16);
  out[20] = h.engineType ?? 0;
  out[21] = h.engineId ?? 0;
  out.writeUInt16BE(h.samplingInterval ?? 0, 22);
  const ip = new Uint8Array(16);
  flows.forEach((f, r) => {
    const p = 24 + r * 48;
    writeIp(ip, 0, f.src);
    out.set(ip.subarray(0, 4), p);
    writeIp(ip, 0, f.dst);
    out.set(ip.subarray(0, 4), p + 4);
    out.writeUInt32BE(f.packets >>> 0, p + 16);
    out.writeUInt32BE(f.bytes >>> 0, p + 20);
    out.writeUInt32BE(f.first >>> 0, p + 24);
    out.writeUInt32BE(f.last >>> 0, p + 28);
    out.writeUInt16BE(f.srcPort, p + 32);
    out.writeUInt16BE(f.dstPort, p + 34);
    out[p + 37] = f.tcpFlags ?? 0;
    out[p + 38] = f.proto;
  });
  return out;
}

/** The v9 template of the generated benchmark stream (the fields softflowd exports for IPv4). */
export const BENCH_V9_FIELDS: TemplateField[] = [
  field(8, 4), // sourceIPv4Address
  field(12, 4), // destinationIPv4Address
  field(21, 4), // LAST_SWITCHED
  field(22, 4), // FIRST_SWITCHED
  field(1, 4), // IN_BYTES
  field(2, 4), // IN_PKTS
  field(10, 2), // INPUT_SNMP
  field(14, 2), // OUTPUT_SNMP
  field(7, 2), // L4_SRC_PORT
  field(11, 2), // L4_DST_PORT
  field(4, 1), // PROTOCOL
  field(6, 1), // TCP_FLAGS
  field(60, 1), // IP_PROTOCOL_VERSION
  field(5, 1), // SRC_TOS
];

/**
 * What the generated stream looks like. `crypto`: the bench's first stream — every flow from
 * 10.0.0.0/8 to 192.168.0.0/16 port 8333. `mix`: a national network's export — 2,000 hosts in
 * three public /16s talking to addresses spread over the public IPv4 space, `cryptoPercent` % of
 * flows to crypto ports (Bitcoin/Litecoin/Monero P2P, Stratum), the rest to web, DNS, NTP, mail
 * and SSH, packet counts heavy-tailed.
 */
export type BenchMix = { kind: 'crypto' } | { kind: 'mix'; cryptoPercent: number };

const MIX_HOME = [(175 << 8) | 45, (41 << 8) | 77, (85 << 8) | 132];
const MIX_CRYPTO = [8333, 8333, 3333, 4444, 18080, 9333, 14444, 8333];
const MIX_SERVICES = [443, 443, 443, 443, 80, 80, 53, 123, 25, 993, 22, 443];

/** A 32-bit integer hash (Wang/Jenkins style): the mix's stand-in for randomness, deterministic. */
function mixHash(j: number): number {
  let h = Math.imul(j ^ (j >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** One record of the `mix` stream at byte p of body (flow j of datagram k). */
function mixRecord(body: Buffer, p: number, j: number, k: number, cryptoPercent: number): void {
  const h = mixHash(j);
  const g = mixHash(h);
  const host = h % 2000;
  body.writeUInt32BE(((MIX_HOME[host % 3] << 16) | (host & 0xfff)) >>> 0, p);
  // Remote ends over the public space: first octet 1–223 without 10 and 127.
  let o1 = 1 + (g % 223);
  if (o1 === 10 || o1 === 127) o1++;
  body.writeUInt32BE(((o1 << 24) | ((g >>> 8) & 0xffffff)) >>> 0, p + 4);
  body.writeUInt32BE(100000 + k, p + 8);
  body.writeUInt32BE(90000 + k - (h % 60), p + 12);
  const pk = h % 7 === 0 ? 1 + (g % 5000) : 1 + (g % 20);
  body.writeUInt32BE(pk * (40 + (h % 1400)), p + 16);
  body.writeUInt32BE(pk, p + 20);
  body.writeUInt16BE(32768 + (g % 28232), p + 28);
  const crypto = h % 10000 < cryptoPercent * 100;
  const port = crypto ? MIX_CRYPTO[g % MIX_CRYPTO.length] : MIX_SERVICES[g % MIX_SERVICES.length];
  body.writeUInt16BE(port, p + 30);
  body[p + 32] = port === 53 || port === 123 ? 17 : 6;
  body[p + 33] = port === 53 || port === 123 ? 0 : 0x1b;
  body[p + 34] = 4;
}

/**
 * A deterministic NetFlow v9 stream: datagram k carries flows k*perDatagram .. +perDatagram-1,
 * with the template repeated every `templateEvery` datagrams. The default (`crypto`) stream: flow j
 * has packets = 1 + j % 100, bytes = 64 * packets, distinct 5-tuples, all to port 8333.
 */
export function* benchV9Stream(
  datagrams: number,
  perDatagram = 30,
  templateEvery = 20,
  startSecs = 1700000000,
  mix: BenchMix = { kind: 'crypto' },
): Generator<Buffer> {
  const tmpl = templateSet(true, [{ id: 256, fields: BENCH_V9_FIELDS }]);
  const recLen = 36;
  for (let k = 0; k < datagrams; k++) {
    const body = Buffer.alloc(recLen * perDatagram);
    for (let r = 0; r < perDatagram; r++) {
      const j = k * perDatagram + r;
      const p = r * recLen;
      if (mix.kind === 'mix') {
        mixRecord(body, p, j, k, mix.cryptoPercent);
        continue;
      }
      body.writeUInt32BE((10 << 24) | (j & 0xffffff), p);
      body.writeUInt32BE(((192 << 24) | (168 << 16) | ((j >>> 8) & 0xffff)) >>> 0, p + 4);
      body.writeUInt32BE(100000 + k, p + 8);
      body.writeUInt32BE(90000 + k, p + 12);
      const pk = 1 + (j % 100);
      body.writeUInt32BE(64 * pk, p + 16);
      body.writeUInt32BE(pk, p + 20);
      body.writeUInt16BE(1024 + (j % 50000), p + 28);
      body.writeUInt16BE(8333, p + 30);
      body[p + 32] = 6;
      body[p + 33] = 0x1b;
      body[p + 34] = 4;
    }
    const sets = [dataSet(256, [body], true)];
    if (k % templateEvery === 0) sets.unshift(tmpl);
    yield v9Packet(
      {
        sysUptime: 100000 + k,
        unixSecs: startSecs + Math.floor(k / 1000),
        seq: k,
        sourceId: 1,
        count: perDatagram + (k % templateEvery === 0 ? 1 : 0),
      },
      sets,
    );
  }
}
