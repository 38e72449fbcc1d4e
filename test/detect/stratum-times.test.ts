/**
 * Share and job times in Stratum evidence: each message line takes the capture time of the segment
 * it starts in. A capture built here (times chosen to the microsecond, a line split over two
 * segments, two lines in one segment, a retransmission, a share 25 minutes in) goes through the
 * whole path — capture reader, flow table, detection hook, DuckDB store — and again through
 * `detect --db`; the study's ZEC pool capture is checked against tshark's packet times.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { captureFlows } from '../../src/capture/formats.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { isoMicros, packPayloadTimes, unpackPayloadTimes } from '../../src/flow/payload-times.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { detectionHookFor } from '../../src/detect/pipeline.js';
import { redetectStore } from '../../src/detect/rerun.js';
import { createDetector } from '../../src/detect/registry.js';
import { matchStratum } from '../../src/detect/stratum.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { DuckDbSeries } from '../../src/store/duckdb/series.js';
import { openFlowStore } from '../../src/store/open.js';
import { ether, ipv4, pcapFile, type SynthPacket } from '../capture/synth.js';
import { haveTshark } from './tshark-flows.js';

const MINER = '10.1.2.3';
const POOL = '203.0.113.7';
const SYN = 2;
const ACK = 16;
const PSH = 8;
/** 17 May 2017 00:00:00 UTC; packet times below are whole microseconds after it. */
const T0 = Date.UTC(2017, 4, 17);
const at = (s: number) => T0 + s * 1000;

const subscribe = '{"id":1,"method":"mining.subscribe","params":["cgminer/4.10.0"]}\n';
const authorize =
  '{"id":2,"method":"mining.authorize","params":["1BoatSLRHtKNngkdXEeobR76b53LETtpyT.rig7","x"]}\n';
const submit = (id: number) =>
  `{"id":${id},"method":"mining.submit","params":["1BoatSLRHtKNngkdXEeobR76b53LETtpyT.rig7","1","00000000","591b9380","a1b2c3d4"]}\n`;
const notify = (job: number) =>
  `{"id":null,"method":"mining.notify","params":["${job.toString(16)}","00","01","02",[],"20000000","1801310b","591b9380",false]}\n`;
const hello =
  '{"id":1,"result":[[["mining.set_difficulty","1"],["mining.notify","1"]],"08000002",4],"error":null}\n' +
  '{"id":2,"result":true,"error":null}\n' +
  '{"id":null,"method":"mining.set_difficulty","params":[1024]}\n';

/** A miner's session: every payload segment with its exact time; the asserted times follow. */
function session(): SynthPacket[] {
  const packets: SynthPacket[] = [];
  let cseq = 1000;
  let pseq = 9000;
  const c = (t: number, flags: number, data = '', seq = cseq) => {
    packets.push({
      tsMs: at(t),
      data: ether(ipv4(MINER, POOL, { sport: 50123, dport: 3333, flags, seq, payload: data })),
    });
    if (seq === cseq) cseq += Buffer.byteLength(data) + (flags & SYN ? 1 : 0);
  };
  const p = (t: number, data: string) => {
    packets.push({
      tsMs: at(t),
      data: ether(
        ipv4(POOL, MINER, { sport: 3333, dport: 50123, flags: ACK | PSH, seq: pseq, payload: data }),
      ),
    });
    pseq += Buffer.byteLength(data);
  };
  c(0, SYN);
  packets.push({
    tsMs: at(0.000412),
    data: ether(ipv4(POOL, MINER, { sport: 3333, dport: 50123, flags: SYN | ACK, seq: pseq - 1 })),
  });
  c(0.000513, ACK);
  c(0.1, ACK | PSH, subscribe + authorize); // two lines, one segment: both at 0.1 s
  p(0.150001, hello + notify(1)); // a job at 0.150001 s
  c(5.123456, ACK | PSH, submit(10)); // share 1
  p(5.2, '{"id":10,"result":true,"error":null}\n');
  const split = submit(11);
  const cut = 30;
  const seq11 = cseq;
  c(17.00025, ACK | PSH, split.slice(0, cut)); // share 2 starts here ...
  c(17.0009, ACK | PSH, split.slice(cut)); // ... and ends in the next segment
  c(18, ACK | PSH, split.slice(0, cut), seq11); // a retransmission: not a new share
  c(41.5, ACK | PSH, submit(12) + submit(13)); // shares 3 and 4 in one segment
  p(52.000001, notify(2));
  // Bare ACKs keep the connection from idling out (60 s) until 25 minutes in.
  for (let s = 100; s < 1500; s += 50) c(s, ACK);
  c(1500.654321, ACK | PSH, submit(14)); // share 5, 25 minutes in
  p(1500.7, '{"id":14,"result":true,"error":null}\n');
  return packets;
}

const SHARES = [
  '2017-05-17T00:00:05.123456Z',
  '2017-05-17T00:00:17.000250Z',
  '2017-05-17T00:00:41.500000Z',
  '2017-05-17T00:00:41.500000Z',
  '2017-05-17T00:25:00.654321Z',
];
const JOBS = ['2017-05-17T00:00:00.150001Z', '2017-05-17T00:00:52.000001Z'];

function assertTimes(ev: Record<string, unknown>, where: string): void {
  assert.equal(ev.shares, 5, where);
  assert.equal(ev.sharesTimed, 5, where);
  assert.deepEqual(ev.shareTimes, SHARES, where);
  assert.equal(ev.firstShare, SHARES[0], where);
  assert.equal(ev.lastShare, SHARES[4], where);
  assert.equal(ev.jobs, 2, where);
  assert.equal(ev.firstJob, JOBS[0], where);
  assert.equal(ev.lastJob, JOBS[1], where);
  const iv = ev.shareIntervals as { count: number; meanS: number; minS: number; maxS: number };
  assert.equal(iv.count, 4, where);
  assert.equal(iv.minS, 0, where);
  assert.equal(iv.maxS, 1459.154321, where);
  assert.equal(iv.meanS, Math.round(((1500.654321 - 5.123456) / 4) * 1e6) / 1e6, where);
}

test('Stratum share and job times are the capture times of the segments their lines start in; detect --db gives the same', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-stratum-times-'));
  try {
    const pcap = join(dir, 'miner.pcap');
    writeFileSync(pcap, pcapFile(session()));
    const store = await openFlowStore(join(dir, 'db.duckdb'));
    const det = await detectionHookFor(store, { lists: [] });
    // One flow for the whole session: a 30-minute active timeout keeps the share 25 minutes in
    // in the same flow as the first (the default, 5 minutes, would start a new piece before it).
    const r = await ingestFile(pcap, { store, hooks: [det.hook], activeTimeoutMs: 1_800_000 });
    assert.equal(r.error, undefined);
    const dets = await openDetectionStore(store);
    const [d] = await dets.detections({ label: 'stratum' });
    assert.equal(d.src, MINER);
    assert.equal(d.first, '2017-05-17T00:00:00.000Z');
    assertTimes(d.evidence, 'ingest');
    assert.equal(d.evidence.difficulty, 1024);

    // The stored segment times are the packets' own.
    const pl = (await store.payloads([d.id])).get(d.id)!;
    const fwd = unpackPayloadTimes(pl.fwdTimes);
    assert.deepEqual(
      fwd.slice(0, 5).map(([o, ms]) => [o, isoMicros(ms)]),
      [
        [0, '2017-05-17T00:00:00.100000Z'],
        [subscribe.length + authorize.length, SHARES[0]],
        [subscribe.length + authorize.length + submit(10).length, SHARES[1]],
        [subscribe.length + authorize.length + submit(10).length + 30, '2017-05-17T00:00:17.000900Z'],
        [subscribe.length + authorize.length + submit(10).length + submit(11).length, SHARES[2]],
      ],
    );
    assert.equal(fwd.length, 6);
    assert.equal(unpackPayloadTimes(pl.revTimes).length, 4);

    // Re-detection over the stored database sees the same times.
    const rerun = await redetectStore(store, dets, createDetector(null));
    assert.equal(rerun.flows, 1);
    const [again] = await dets.detections({ label: 'stratum' });
    assertTimes(again.evidence, 'detect --db');
    await store.close();

    // The series query hands the times to the analysis side too.
    const { series, close } = await DuckDbSeries.open(join(dir, 'db.duckdb'));
    try {
      const [s] = await series.stratumPayloads({});
      assert.deepEqual(s.fwdTimes, pl.fwdTimes);
      assert.deepEqual(s.revTimes, pl.revTimes);
      assert.equal(s.lastMs, at(1500.7));
    } finally {
      await close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flows without segment times (NetFlow, older stores) have no time fields; counts stay', () => {
  const flow = {
    proto: 6,
    srcPort: 50123,
    dstPort: 3333,
    payloadFwd: Buffer.from(subscribe + authorize + submit(10)),
    payloadRev: Buffer.from(hello + notify(1)),
  };
  const [d] = matchStratum(flow);
  assert.equal(d.evidence.shares, 1);
  assert.equal(d.evidence.jobs, 1);
  for (const k of [
    'sharesTimed',
    'firstShare',
    'lastShare',
    'shareTimes',
    'firstJob',
    'lastJob',
    'shareIntervals',
  ])
    assert.ok(!(k in d.evidence), k);
  // Times for the miner's side only: shares are timed, jobs are not.
  const [half] = matchStratum({ ...flow, payloadTimesFwd: packPayloadTimes([[0, at(1)]]) });
  assert.deepEqual(half.evidence.shareTimes, ['2017-05-17T00:00:01.000000Z']);
  assert.ok(!('firstJob' in half.evidence));
  // A list cut by its cap: lines past the NaN marker have no time.
  const marked = packPayloadTimes([
    [0, at(1)],
    [subscribe.length + authorize.length, NaN],
  ]);
  const [cut] = matchStratum({ ...flow, payloadTimesFwd: marked });
  assert.equal(cut.evidence.shares, 1);
  assert.ok(!('sharesTimed' in cut.evidence));
});

test('share times are capped at 64 in the evidence; first, last and the count cover all', () => {
  let fwd = subscribe + authorize;
  const entries: [number, number][] = [[0, at(0)]];
  for (let k = 0; k < 100; k++) {
    entries.push([fwd.length, at(10 + k * 7.25)]);
    fwd += submit(100 + k);
  }
  const [d] = matchStratum({
    proto: 6,
    srcPort: 50123,
    dstPort: 3333,
    payloadFwd: Buffer.from(fwd),
    payloadRev: null,
    payloadTimesFwd: packPayloadTimes(entries),
  });
  assert.equal(d.evidence.shares, 100);
  assert.equal(d.evidence.sharesTimed, 100);
  assert.equal((d.evidence.shareTimes as string[]).length, 64);
  assert.equal(d.evidence.firstShare, isoMicros(at(10)));
  assert.equal(d.evidence.lastShare, isoMicros(at(10 + 99 * 7.25)));
  const iv = d.evidence.shareIntervals as { count: number; meanS: number; cv: number };
  assert.equal(iv.count, 99);
  assert.equal(iv.meanS, 7.25);
  assert.equal(iv.cv, 0);
});

const skip = haveTshark() ? false : 'tshark not installed';

/** Capture times (ms) of the packets whose TCP payload has `text`, retransmissions left out. */
function tsharkTimes(path: string, text: string): number[] {
  const r = spawnSync(
    'tshark',
    [
      '-r',
      path,
      '-Y',
      `tcp.payload contains "${text.replace(/"/g, '\\"')}" && !tcp.analysis.retransmission`,
      '-T',
      'fields',
      '-e',
      'frame.time_epoch',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((s) => {
      // Seconds with a 9-digit fraction: microseconds exactly, as the pcapng stores them.
      const [sec, frac] = s.split('.');
      return Number(sec) * 1000 + Number(frac.slice(0, 6)) / 1000;
    });
}

test("the study's ZEC pool session: share and job times equal tshark's packet times", { skip }, async () => {
  const path = 'test/fixtures/pcap/nesfit/zec-eu1.nanopool.org.pcapng';
  const shares = tsharkTimes(path, '"mining.submit"').map(isoMicros);
  const jobs = tsharkTimes(path, '"mining.notify"}').map(isoMicros);
  assert.equal(shares.length, 6);
  assert.equal(jobs.length, 5);
  const flows: FlowRecord[] = [];
  // The whole session: a cap large enough for every Equihash submit (about 1.4 kB each).
  for await (const b of captureFlows(path, { diagnostics: new Diagnostics(), payloadCap: 65536 }))
    flows.push(...b.records());
  const [d] = flows.flatMap((f) => matchStratum(f));
  assert.equal(d.coin, 'ZEC');
  assert.deepEqual(d.evidence.shareTimes, shares);
  assert.equal(d.evidence.firstJob, jobs[0]);
  assert.equal(d.evidence.lastJob, jobs[jobs.length - 1]);
  assert.equal(d.evidence.jobsTimed, jobs.length);
  // With the default 2 KiB sample the first shares are there, at the same times.
  const small: FlowRecord[] = [];
  for await (const b of captureFlows(path, { diagnostics: new Diagnostics() })) small.push(...b.records());
  const [s] = small.flatMap((f) => matchStratum(f));
  const some = s.evidence.shareTimes as string[];
  assert.ok(some.length >= 1);
  assert.deepEqual(some, shares.slice(0, some.length));
});
