/**
 * Malformed and hostile payloads: matchers never throw, never hang, never look past their window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { parseLevinHeader } from '../../src/detect/monero-levin.js';
import { parseBitcoinHeader } from '../../src/detect/bitcoin-p2p.js';
import { parseStratumLine, parseStratumPayload } from '../../src/detect/stratum.js';
import { parseClientHelloSni } from '../../src/detect/tls-sni.js';
import { parseDnsQuestion } from '../../src/detect/dns.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { MAX_SCAN, type Detection } from '../../src/detect/types.js';
import { PayloadClock } from '../../src/flow/payload-times.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { flowRecord } from './flow-record.js';
import { haveTshark, tsharkFlows } from './tshark-flows.js';

const detector = createDetector(loadInfrastructure());

function flow(fwd: Buffer | null, rev: Buffer | null = null, over: Partial<FlowRecord> = {}): FlowRecord {
  return flowRecord({
    lastMs: 1000,
    packets: 10,
    bytes: 1000,
    revPackets: 10,
    revBytes: 1000,
    tcpFlags: 0x1b,
    payloadFwd: fwd,
    payloadRev: rev,
    ...over,
  });
}

function strong(ds: Detection[]): Detection[] {
  return ds.filter((d) => d.confidence !== 'port');
}

/** A small deterministic PRNG (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function noise(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

test('truncated JSON: no throw; a cut Stratum line still names its method, ordinary text does not fire', () => {
  const cut = '{"id":1,"method":"mining.subscribe","params":["cgminer/4.10.0"';
  const m = parseStratumLine(cut);
  assert.equal(m?.method, 'mining.subscribe');
  assert.equal(parseStratumLine('{"id":1,"method":"echo","par'), null);
  assert.equal(parseStratumLine('{'), null);
  assert.equal(parseStratumLine('{"login":'), null);
  const ds = detectFlow(detector, flow(Buffer.from(cut)));
  assert.equal(strong(ds)[0].label, 'stratum');
});

test('a 1 MB line without newline: bounded time, nothing past the scan window is read', () => {
  const big = Buffer.alloc(1 << 20, 0x61);
  Buffer.from('{"x":"').copy(big, 0);
  // A valid Stratum line placed beyond the window must not be seen: the matcher never reads there.
  Buffer.from('\n{"id":1,"method":"mining.subscribe","params":[]}\n').copy(big, MAX_SCAN + 100);
  const t0 = process.hrtime.bigint();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 20; i++) assert.deepEqual(strong(detectFlow(detector, flow(big, big))), []);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(ms < 2000, `20 runs took ${ms} ms`);
  assert.ok(grown < 64 << 20, `heap grew ${grown} bytes`);
  assert.equal(parseStratumPayload(big).messages.length, 0);
});

test('binary noise on port 3333 (and every matcher port) never throws and never fires by payload', () => {
  const r = rng(42);
  for (let i = 0; i < 3000; i++) {
    const n = Math.floor(r() * 3000);
    const dstPort = [3333, 8333, 18080, 443, 53, 80][i % 6];
    const f = flow(noise(r, n), noise(r, Math.floor(r() * 500)), { dstPort, proto: dstPort === 53 ? 17 : 6 });
    assert.deepEqual(
      strong(detectFlow(detector, f)).filter((d) => d.confidence === 'payload'),
      [],
    );
  }
});

test('noise behind a valid magic or signature never throws', () => {
  const r = rng(7);
  const heads = [
    Buffer.from('f9beb4d976657273696f6e0000000000', 'hex'),
    Buffer.from('0121010101010101', 'hex'),
    Buffer.from('160301', 'hex'),
    Buffer.from('POST / HTTP/1.1\r\n'),
    Buffer.from('{"method":"login","params":'),
  ];
  for (let i = 0; i < 2000; i++) {
    const h = heads[i % heads.length];
    const b = Buffer.concat([h, noise(r, Math.floor(r() * 200))]);
    detectFlow(detector, flow(b, b.subarray(0, Math.floor(r() * b.length))));
    parseDnsQuestion(b);
    parseClientHelloSni(b);
  }
});

test('a Levin header with an absurd length is not Levin; a Bitcoin header with one is not Bitcoin', () => {
  const levin = Buffer.alloc(64);
  Buffer.from('0121010101010101', 'hex').copy(levin, 0);
  levin.writeBigUInt64LE(0xffffffffffffffffn, 8);
  levin.writeUInt32LE(1001, 17);
  assert.equal(parseLevinHeader(levin), null);
  assert.deepEqual(strong(detectFlow(detector, flow(levin, null, { dstPort: 18080 }))), []);
  levin.writeBigUInt64LE(200_000_000n, 8);
  assert.equal(parseLevinHeader(levin), null);
  levin.writeBigUInt64LE(99_000_000n, 8); // large but allowed: recognised, and nothing is read past the buffer
  assert.equal(parseLevinHeader(levin)?.command, 1001);
  assert.equal(strong(detectFlow(detector, flow(levin, null, { dstPort: 18080 })))[0].label, 'monero-p2p');
  const btc = Buffer.from('f9beb4d976657273696f6e0000000000ffffffff00000000', 'hex');
  assert.equal(parseBitcoinHeader(btc), null);
});

test(
  'real payloads cut at every length never throw',
  { skip: haveTshark() ? false : 'tshark not installed' },
  () => {
    const samples: Buffer[] = [];
    for (const p of [
      'test/fixtures/pcap/ndpi/mining.pcapng',
      'test/fixtures/pcap/ndpi/monero.pcap',
      'test/fixtures/pcap/ndpi/bitcoin.pcap',
    ]) {
      for (const f of tsharkFlows(p)) {
        if (f.payloadFwd) samples.push(f.payloadFwd.subarray(0, 600));
        if (f.payloadRev) samples.push(f.payloadRev.subarray(0, 600));
      }
    }
    for (const s of samples) {
      for (let n = 0; n <= s.length; n += 3) {
        const cut = s.subarray(0, n);
        detectFlow(detector, flow(cut, cut));
        const flipped = Buffer.from(cut);
        if (n > 0) flipped[n >> 1] ^= 0x5a;
        detectFlow(detector, flow(flipped, null));
      }
    }
  },
);

test('segment-time lists of any bytes never throw: wrong lengths, backward offsets, NaN, huge or negative times', () => {
  const r = rng(0x7135);
  const lines =
    '{"id":1,"method":"mining.subscribe","params":[]}\n' +
    '{"id":4,"method":"mining.submit","params":["w","1","2","3","4"]}\n'.repeat(8);
  const payload = Buffer.from(lines);
  const lists: Buffer[] = [Buffer.alloc(0), Buffer.alloc(5), Buffer.alloc(13)];
  for (let k = 0; k < 300; k++) lists.push(noise(r, Math.floor(r() * 200)));
  // Entries that look right but lie: offsets going back, times past any Date, negative, NaN, ±Infinity.
  for (const ms of [NaN, Infinity, -Infinity, -1, 1e300, 8.64e15, 2.6e14, Number.MAX_VALUE]) {
    const b = Buffer.alloc(36);
    b.writeUInt32LE(0, 0);
    b.writeDoubleLE(1.5e12, 4);
    b.writeUInt32LE(60, 12);
    b.writeDoubleLE(ms, 16);
    b.writeUInt32LE(10, 24); // backwards
    b.writeDoubleLE(1.6e12, 28);
    lists.push(b);
  }
  for (const t of lists) {
    const clock = new PayloadClock(t);
    for (const o of [0, 1, 59, 60, 61, 1e9, 0, -1]) {
      const ms = clock.at(o);
      assert.ok(Number.isNaN(ms) || (ms >= 0 && ms < Date.UTC(10000, 0, 1)));
    }
    const ds = detectFlow(detector, flow(payload, payload, { payloadTimesFwd: t, payloadTimesRev: t }));
    const st = ds.find((d) => d.label === 'stratum')!;
    assert.equal(st.evidence.shares, 16);
    for (const v of (st.evidence.shareTimes as string[] | undefined) ?? [])
      assert.match(v, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
  }
});
