/**
 * Detection over the real captures in test/fixtures/pcap, flows built by tshark (the oracle, so the
 * matchers are judged on the packets themselves, independent of coinradar's capture reader).
 * Ground truth: nDPI's own verdicts (*.ndpi.out) and, for the study's probes, what tshark finds
 * in the bytes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { FlowRecord } from '../../src/flow/record.js';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import type { Detection } from '../../src/detect/types.js';
import { haveTshark, tsharkFlows, tsharkMiningConnections } from './tshark-flows.js';

const NDPI = 'test/fixtures/pcap/ndpi';
const NESFIT = 'test/fixtures/pcap/nesfit';
const detector = createDetector(loadInfrastructure());
const skip = haveTshark() ? false : 'tshark not installed';

interface NdpiFlow {
  a: string;
  b: string;
  proto: string;
  confidence: string;
  currency: string;
}

/** Flow lines of an nDPI result file: endpoints, protocol, confidence, currency. */
function ndpiFlows(path: string): NdpiFlow[] {
  const out: NdpiFlow[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m =
      /^\s+\d+\s+TCP\s+(\S+)\s+<->\s+(\S+)\s+\[proto: [\d.]+\/([^\]]+)\].*?\[Confidence: ([^\]]+)\]/.exec(
        line,
      );
    if (!m) continue;
    const cur = /\[currency: ([^\]]+)\]/.exec(line);
    out.push({ a: m[1], b: m[2], proto: m[3], confidence: m[4], currency: cur ? cur[1] : '' });
  }
  return out;
}

function flowFor(flows: FlowRecord[], a: string, b: string): FlowRecord | undefined {
  const ep = (r: FlowRecord, s: 'src' | 'dst') =>
    s === 'src' ? `${r.src}:${r.srcPort}` : `${r.dst}:${r.dstPort}`;
  return flows.find(
    (r) => (ep(r, 'src') === a && ep(r, 'dst') === b) || (ep(r, 'src') === b && ep(r, 'dst') === a),
  );
}

const COINS: Record<string, string[]> = {
  BITCOIN: ['BTC'],
  Monero: ['XMR'],
  ZCash: ['ZEC'],
  Ethereum: ['ETH'],
  'ZCash/Monero': ['ZEC', 'XMR'],
};

const LABEL_OF: Record<string, string> = { BITCOIN: 'bitcoin-p2p', Monero: 'monero-p2p', Mining: 'stratum' };

for (const name of ['bitcoin.pcap', 'mining.pcapng', 'monero.pcap']) {
  test(
    `every flow nDPI calls Mining/BITCOIN/Monero by DPI in ${name} is found by payload with the right coin`,
    { skip },
    () => {
      const truth = ndpiFlows(`${NDPI}/${name}.ndpi.out`).filter((f) =>
        ['Mining', 'BITCOIN', 'Monero'].includes(f.proto),
      );
      assert.ok(truth.length >= 4, 'ground truth has flows');
      const flows = tsharkFlows(`${NDPI}/${name}`);
      for (const t of truth) {
        assert.equal(t.confidence, 'DPI');
        const f = flowFor(flows, t.a, t.b);
        assert.ok(f, `flow ${t.a} <-> ${t.b} present`);
        const dets = detectFlow(detector, f).filter((d) => d.confidence === 'payload');
        assert.equal(dets.length, 1, `${t.a} <-> ${t.b}: one payload detection, got ${JSON.stringify(dets)}`);
        assert.equal(dets[0].label, LABEL_OF[t.proto]);
        const coins = COINS[t.proto === 'Mining' ? t.currency : t.proto];
        assert.ok(
          coins.includes(dets[0].coin),
          `${t.a} <-> ${t.b}: coin ${dets[0].coin}, nDPI says ${t.currency || t.proto}`,
        );
      }
    },
  );
}

for (const name of [
  'bittorrent.pcap',
  'gnutella.pcap',
  'jsonrpc.pcap',
  'http.pcapng',
  'dns.pcap',
  'irc.pcap',
]) {
  test(`no payload or infrastructure detection in the negative capture ${name}`, { skip }, () => {
    const flows = tsharkFlows(`${NDPI}/${name}`);
    assert.ok(flows.length > 0);
    const strong: string[] = [];
    for (const f of flows) {
      for (const d of detectFlow(detector, f)) {
        assert.ok(
          d.confidence === 'port',
          `${name} ${f.src}:${f.srcPort} -> ${f.dst}:${f.dstPort}: ${d.label}/${d.confidence} ${d.evidence.detail}`,
        );
        strong.push(d.label);
      }
    }
    assert.ok(strong.every((l) => l === 'crypto-port'));
  });
}

function portKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

for (const name of ['cgminer.s0.pcapng', 'cgminer.g0.pcapng']) {
  test(
    `the study's ${name}: every flow carrying Stratum/getblocktemplate is found by payload, and nothing else`,
    { skip },
    () => {
      const oracle = tsharkMiningConnections(`${NESFIT}/${name}`, '192.168.1.100');
      assert.ok(oracle.size >= 17);
      const found = new Map<string, Detection>();
      for (const f of tsharkFlows(`${NESFIT}/${name}`)) {
        for (const d of detectFlow(detector, f))
          if (d.confidence === 'payload') found.set(portKey(f.srcPort, f.dstPort), d);
      }
      assert.deepEqual([...found.keys()].sort(), [...oracle].sort());
      for (const d of found.values()) assert.ok(['stratum', 'getblocktemplate'].includes(d.label), d.label);
    },
  );
}

test('the study pool captures are Stratum with the pool coin', { skip }, () => {
  const expect: Record<string, [string, string]> = {
    'xmr-eu1.nanopool.org.pcapng': ['cryptonote', 'XMR'],
    'zec-eu1.nanopool.org.pcapng': ['bitcoin', 'ZEC'],
    'eth-eu1.nanopool.org.pcapng': ['ethereum', 'ETH'],
  };
  for (const [name, [dialect, coin]] of Object.entries(expect)) {
    const flows = tsharkFlows(`${NESFIT}/${name}`);
    assert.equal(flows.length, 1);
    const [d] = detectFlow(detector, flows[0]).filter((x) => x.confidence === 'payload');
    assert.equal(d.label, 'stratum', name);
    assert.equal(d.evidence.dialect, dialect, name);
    assert.equal(d.coin, coin, name);
  }
});

/** The artifacts of one capture's payload detections, as kind=value strings. */
function artifactsOf(path: string, filter?: (f: FlowRecord) => boolean): string[] {
  const out = new Set<string>();
  for (const f of tsharkFlows(path)) {
    if (filter && !filter(f)) continue;
    for (const d of detectFlow(detector, f)) {
      if (d.confidence !== 'payload') continue;
      for (const a of d.artifacts) out.add(`${a.kind}=${a.value}`);
    }
  }
  return [...out].sort();
}

// Values copied from the packets (tshark -q -z follow,tcp,ascii,N), not from coinradar's output.
test('artifacts are listed exactly as they appear in the packets', { skip }, () => {
  assert.deepEqual(
    artifactsOf(`${NDPI}/mining.pcapng`, (f) => f.dstPort === 3333 && f.srcPort === 46838),
    [
      'agent=EWBF 0.3.4b',
      'pool=eu1-zcash.flypool.org:3333',
      'wallet=t1fAhZF5aUJdY7CikGULHmeYk7id8qmvbAd',
      'worker=rig4',
    ],
  );
  assert.deepEqual(
    artifactsOf(`${NDPI}/mining.pcapng`, (f) => f.srcPort === 53846),
    [
      'agent=EWBF 0.3.4b',
      'pool=cn1-zcash.flypool.org:3333',
      'wallet=t1fJuHWrfcWnYMYyP9VAF96vRnvND2NziMG',
      'worker=c1',
    ],
  );
  assert.deepEqual(
    artifactsOf(`${NDPI}/mining.pcapng`, (f) => f.dstPort === 9050),
    [
      'agent=xmr-stak-cpu/1.3.0-1.5.0',
      'wallet=4BCeEPhodgPMbPWFN1dPwhWXdRX8q4mhhdZdA1dtSMLTLCEYvAj9QXjXAfF7CugEbmfBhgkqHbdgK9b2wKA6nqRZQCgvCDm',
      'worker=ryzen',
    ],
  );
  assert.deepEqual(
    artifactsOf(`${NDPI}/mining.pcapng`, (f) => f.dstPort === 9999),
    [
      'account=vvesely@mailinator',
      'wallet=0x9c99d212f7e5daa18ab50810e0fd255d1f04303b',
      'worker=eth1.0',
      'worker=tester.worker1',
    ],
  );
  assert.deepEqual(artifactsOf(`${NESFIT}/eth-eu1.nanopool.org.pcapng`), [
    'account=ivesely@mailinator',
    'wallet=0x9c99d212f7e5daa18ab50810e0fd255d1f04303b',
    'worker=eth1.0',
    'worker=kvetak.worker1',
  ]);
  assert.deepEqual(artifactsOf(`${NESFIT}/xmr-eu1.nanopool.org.pcapng`), [
    'agent=xmr/1.0',
    'wallet=47mr7jYTroxQMwdKoPQuJoc9Vs9S9qCUAL6Ek4qyNFWJdqgBZRn4RYY2QjQfqEMJZVWPscupSgaqmUn1dpdUTC4fQsu3yjN',
  ]);
  assert.deepEqual(artifactsOf(`${NESFIT}/zec-eu1.nanopool.org.pcapng`), [
    'agent=equihashminer',
    'pool=zec-eu1.nanopool.org:6666',
    'wallet=t1KJkEGkUrmBRQdeQeNchfqgvDFD7Pk1kKQ',
    'worker=kvetak',
  ]);
  // cgminer over getblocktemplate: User-Agent and the Basic-auth user "Bitcoin" (Qml0Y29pbjp4 = Bitcoin:x).
  assert.deepEqual(
    artifactsOf(`${NESFIT}/cgminer.g0.pcapng`, (f) => f.dstPort === 6666 && f.dst === '103.3.62.64'),
    [
      'account=Bitcoin',
      'agent=cgminer 3.7.2',
      'agent=cgminer/3.7.2', // a second probe of the same port speaks Stratum
      'pool=103.3.62.64:6666',
    ],
  );
  assert.ok(artifactsOf(`${NESFIT}/cgminer.s0.pcapng`).includes('agent=cgminer/3.7.2'));
});

test(
  'Bitcoin version messages: protocol version, services and start height from the packets',
  { skip },
  () => {
    // 192.168.1.142:55317 -> 188.165.213.169:8333, first segment (a 20-byte header without checksum, as
    // clients before 0.3 sent version): 017d0000 | 0100000000000000 | ... nonce d9303acf1b101e0c | 00 | fabd0100
    const flows = tsharkFlows(`${NDPI}/bitcoin.pcap`);
    const f = flows.find((r) => r.srcPort === 55317)!;
    const [d] = detectFlow(detector, f);
    const v = d.evidence.version as Record<
      string,
      { protocolVersion: number; services: string; userAgent: string; startHeight: number }
    >;
    assert.equal(v.fwd.protocolVersion, 32001);
    assert.equal(v.fwd.services, '0x1');
    assert.equal(v.fwd.userAgent, '');
    assert.equal(v.fwd.startHeight, 0x0001bdfa);
    assert.deepEqual(d.artifacts, []); // that 2011 client sent an empty user agent
    assert.equal(d.evidence.network, 'bitcoin-mainnet');
  },
);
