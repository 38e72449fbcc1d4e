// The shipped behaviour model on keep-alive channels it never saw: the trained families on seeds
// outside the dataset's, and families never trained on (an OpenVPN-TCP tunnel with both ends
// pinging and no traffic; SSH with background output). Cross-validation (classifier-cv.test.ts)
// holds out one seed of a family while the model still sees its other seeds; this is stricter.
// Targets not met are `todo` (printed with their figures), as in classifier-cv.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  heldOutKeepalive,
  heldOutMiners,
  HELD_OUT_SEEDS,
  type HeldOutMinerKind,
} from '../../src/detect/classifier/heldout.js';
import {
  compact,
  eligible,
  KEEPALIVE_SEEDS,
  MINER_SEEDS,
  type Dataset,
} from '../../src/detect/classifier/train.js';
import {
  keepaliveSamples,
  samplesOf,
  synthMinerSamples,
  type Sample,
} from '../../src/detect/classifier/dataset.js';
import {
  farmConnections,
  FAST_RIGS,
  MINER_COINS,
  minerConnections,
} from '../../src/detect/classifier/miners.js';
import { batchesOf, type SynthConnection } from '../../src/detect/classifier/synth.js';
import { keepaliveBatches } from '../../src/detect/classifier/keepalive.js';
import { FEATURE_NAMES } from '../../src/detect/classifier/features.js';
import { shippedModel } from '../../src/detect/classifier/model.js';

const model = shippedModel();
const held = heldOutKeepalive(model);
const line = (f: string) => {
  const c = held[f as keyof typeof held];
  return `${f}: ${c.hits}/${c.of} ${JSON.stringify(c.byForm)} (the trees alone, every port: ${c.modelAlone}/${c.of})`;
};

/**
 * A held-out family's windows past the gate, 10th / 50th / 90th percentile: packets a minute,
 * IP bytes a packet each way, and record timing (recordCountDispersion, windows that have it).
 */
function shapeOf(family: 'chat' | 'ssh-busy'): string {
  const rows = HELD_OUT_SEEDS.flatMap((seed) =>
    keepaliveBatches(family, seed).flatMap(([variant, b]) =>
      samplesOf(b, { unit: family, family: 'keepalive', variant }, () => 0),
    ),
  ).filter(eligible);
  const col = (name: (typeof FEATURE_NAMES)[number]) =>
    rows.map((s) => s.features[FEATURE_NAMES.indexOf(name)]);
  const pct = (xs: number[], digits: number) =>
    [0.1, 0.5, 0.9].map((p) => quantile(xs, p).toFixed(digits)).join(' / ');
  const timed = col('recordCountDispersion').filter((x) => x >= 0);
  return `${family}, ${rows.length} windows past the gate (10th / 50th / 90th percentile): packets a minute ${pct(
    col('packetsPerMinuteLog').map((x) => 10 ** x),
    1,
  )}; bytes a packet up ${pct(col('upBytesPerPacket'), 0)}, down ${pct(col('downBytesPerPacket'), 0)}; record timing ${pct(timed, 2)} (${timed.length} windows with it)`;
}

test('held-out seeds are not training seeds, and every family is judged in every form', () => {
  for (const s of HELD_OUT_SEEDS) assert.ok(!KEEPALIVE_SEEDS.includes(s), `seed ${s}`);
  for (const [f, c] of Object.entries(held)) {
    console.log(line(f));
    assert.ok(c.of > 300, `${f}: windows judged (${c.of})`);
    assert.deepEqual(
      Object.keys(c.byForm).sort(),
      ['synthetic-ipfix-biflow', 'synthetic-netflow-v5', 'synthetic-pcap', 'synthetic-zeek'],
      f,
    );
  }
});

test('the trained keep-alive families still give exactly the dataset rows (generator unchanged)', () => {
  const dataset = JSON.parse(
    readFileSync(new URL('../../src/detect/data/behaviour-dataset.json', import.meta.url), 'utf8'),
  ) as Dataset;
  const made = compact(KEEPALIVE_SEEDS.flatMap((s) => keepaliveSamples(s)));
  const shipped = dataset.samples.filter((s) => s.family === 'keepalive');
  assert.equal(made.samples.length, shipped.length);
  assert.deepEqual(made.samples, shipped);
  assert.deepEqual(
    made.ungated,
    dataset.ungated.filter((u) => u.family === 'keepalive'),
  );
});

test('held-out seeds: MQTT, push, IMAP-IDLE and SSH-idle keep-alive windows not called mining', () => {
  for (const f of ['mqtt', 'push', 'imap-idle', 'ssh-idle'] as const) assert.equal(held[f].hits, 0, line(f));
});

test('held-out seeds: WebSocket keep-alive windows not called mining', () => {
  // Met since the capture's flow table cuts every 5 minutes (record timing in every form but
  // Zeek); it was 5 of 409 with the totals alone (docs/detection-rules.md).
  assert.equal(held.websocket.hits, 0, line('websocket'));
});

/** Nearest window by standardised distance among `pool` (features scaled by `sd`). */
function nearest(x: number[], pool: Sample[], sd: number[]): [Sample, number] {
  let best: Sample = pool[0];
  let bd = Infinity;
  for (const p of pool) {
    let d = 0;
    for (let k = 0; k < x.length; k++) d += ((x[k] - p.features[k]) / sd[k]) ** 2;
    if (d < bd) [best, bd] = [p, d];
  }
  return [best, Math.sqrt(bd)];
}

test(
  'held-out seeds and families: OpenVPN over TCP windows not called mining',
  {
    todo: 'not met: behaviour-gbt/5 calls 2/394 mining (/4: 1/394), Zeek rows (one row per connection: no record timing, the totals only); docs/detection-rules.md',
  },
  () => {
    // Met by behaviour-gbt/3 once the capture's flow table cut every 5 minutes (23 of 394 with the
    // totals alone); behaviour-gbt/4 calls one Zeek row of it mining, /5 two.
    // Why it was hard: in the dataset nearly every OpenVPN-TCP window has a miner window nearer than
    // any ordinary window of another family (standardised feature distance over all features), with
    // record timing too, by this distance, where it is one feature of 19; the trees split on it.
    // Printed, not held.
    const dataset = JSON.parse(
      readFileSync(new URL('../../src/detect/data/behaviour-dataset.json', import.meta.url), 'utf8'),
    ) as Dataset;
    const rows = dataset.samples.filter(eligible);
    const sd = FEATURE_NAMES.map((_, k) => {
      const m = rows.reduce((a, s) => a + s.features[k], 0) / rows.length;
      return Math.sqrt(rows.reduce((a, s) => a + (s.features[k] - m) ** 2, 0) / rows.length) || 1;
    });
    const vpn = rows.filter((s) => s.unit.startsWith('keepalive/vpn-tcp-'));
    const miners = rows.filter((s) => s.label === 1);
    const others = rows.filter((s) => s.label === 0 && !s.unit.startsWith('keepalive/vpn-tcp-'));
    const timed = FEATURE_NAMES.indexOf('recordCountDispersion');
    const minerNearer = { timed: 0, untimed: 0 };
    const windows = { timed: 0, untimed: 0 };
    vpn.forEach((v, i) => {
      const [m, dm] = nearest(v.features, miners, sd);
      const [, dn] = nearest(v.features, others, sd);
      const kind = v.features[timed] === -1 ? 'untimed' : 'timed';
      windows[kind]++;
      if (dm < dn) minerNearer[kind]++;
      if (i < 3) {
        const show = (s: Sample) =>
          FEATURE_NAMES.map((f, k) => `${f}=${Number(s.features[k].toPrecision(3))}`).join(' ');
        console.log(`vpn   ${v.unit} ${v.variant}: ${show(v)}`);
        console.log(`miner ${m.unit} ${m.variant} (distance ${dm.toFixed(2)}): ${show(m)}`);
      }
    });
    console.log(
      `OpenVPN-TCP windows with a miner nearer than any other ordinary window: ${minerNearer.untimed}/${windows.untimed} without record timing, ${minerNearer.timed}/${windows.timed} with it`,
    );
    assert.equal(held['vpn-tcp-idle'].hits, 0, line('vpn-tcp-idle'));
    assert.equal(held['vpn-tcp'].hits, 0, line('vpn-tcp'));
  },
);

test('held-out family: SSH with background output (a `tail -f`) on port 22 not called mining: by the ports not judged, not by the trees', () => {
  // The trees alone call nearly every window of it mining (printed): small bursts down a few times
  // a minute look like Stratum jobs. Port 22 is one the model does not judge (service-ports.ts), so
  // the detector does not; on another port it would (docs/detection-rules.md).
  console.log(line('ssh-busy'));
  console.log(shapeOf('ssh-busy'));
  assert.equal(held['ssh-busy'].hits, 0, line('ssh-busy'));
});

test(
  'held-out family: a messaging channel in use (pings every 1–5 min, conversations of short messages seconds apart) not called mining',
  {
    todo: 'not met: behaviour-gbt/5 calls 129 of 385 windows mining (/4: 128; those on 443: 5222 and 5223 are ports not judged), the trees alone 329; trained on, the family costs real miner sessions (with /4: 5 or 8 of 12 found); docs/detection-rules.md',
  },
  () => {
    // Added 2026-12-07 after the model was built, as a family it never saw. A conversation-less
    // hour is a keep-alive; a conversation is a burst of small packets both ways: together their
    // totals and record timing are a slow miner's (printed).
    console.log(line('chat'));
    console.log(shapeOf('chat'));
    assert.equal(held.chat.hits, 0, line('chat'));
  },
);

// Miners on seeds never trained on. The target: windows of ≥ 5 min found ≥ 90 %, in every
// telemetry form.
const miners = heldOutMiners(model);
const minerLine = (k: HeldOutMinerKind) =>
  `${k}: ${miners[k].hits}/${miners[k].of} ${JSON.stringify(miners[k].byForm)}`;
const atLeast90 = (x: string) => {
  const [h, n] = x.split('/').map(Number);
  return n > 0 && h >= 0.9 * n;
};

test('held-out seeds: synthetic miners of the kind trained on found in every form (≥ 90 % of windows ≥ 5 min)', () => {
  for (const s of HELD_OUT_SEEDS) assert.ok(!MINER_SEEDS.includes(s), `seed ${s}`);
  console.log(minerLine('trained'));
  assert.deepEqual(Object.keys(miners.trained.byForm).sort(), [
    'synthetic-ipfix-biflow',
    'synthetic-netflow-v5',
    'synthetic-pcap',
    'synthetic-zeek',
  ]);
  for (const [form, x] of Object.entries(miners.trained.byForm)) assert.ok(atLeast90(x), `${form}: ${x}`);
});

/** Client → server packets a minute of a window (packets a minute × the client's share). */
const upPerMinute = (s: Sample) =>
  10 ** s.features[FEATURE_NAMES.indexOf('packetsPerMinuteLog')] *
  s.features[FEATURE_NAMES.indexOf('upPacketShare')];
const quantile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];

test("the fast rigs send as fast per (client address, pool, port) as the study's confirmed miners, and faster than every miner trained on", () => {
  // The study's 273 miners (NetFlow of a national network; column 4: packets a minute per client
  // address, pool and port, mostly client → server flows: column 5, request flows, is 100 % for
  // most). A farm behind one address adds its rigs' packets there, as a fast rig does.
  const study = readFileSync(
    new URL('../fixtures/pcap/nesfit/flow-features-miners.csv', import.meta.url),
    'utf8',
  )
    .trim()
    .split('\n')
    .map((l) => Number(l.split(',')[3]));
  assert.equal(study.length, 273);
  const dataset = JSON.parse(
    readFileSync(new URL('../../src/detect/data/behaviour-dataset.json', import.meta.url), 'utf8'),
  ) as Dataset;
  const trainedMax = Math.max(
    ...dataset.samples.filter((s) => s.label === 1 && eligible(s)).map(upPerMinute),
  );
  // Client → server rates of held-out windows, as pcap flows (one form: the rates are the same in each).
  const ratesOf = (make: (coin: string, seed: number) => SynthConnection[]) =>
    Object.keys(MINER_COINS)
      .flatMap((coin) =>
        HELD_OUT_SEEDS.flatMap((seed) =>
          samplesOf(
            batchesOf(make(coin, seed), 'pcap'),
            { unit: coin, family: 'stratum-synth', variant: 'pcap' },
            () => 1,
          ),
        ),
      )
      .filter(eligible)
      .map(upPerMinute);
  const fastRates = ratesOf((coin, seed) => minerConnections(coin, seed, 3, FAST_RIGS));
  const farmRates = ratesOf(farmConnections);
  const above = study.filter((x) => x > trainedMax).length;
  console.log(
    `client → server packets a minute: the study's miners median ${quantile(study, 0.5)}, 90th percentile ${quantile(study, 0.9)}; ${above} of 273 above ${trainedMax.toFixed(1)}, the most of any miner window trained on; the fast rigs ${quantile(fastRates, 0.1).toFixed(0)}–${quantile(fastRates, 0.9).toFixed(0)}, the farms ${quantile(farmRates, 0.1).toFixed(0)}–${quantile(farmRates, 0.9).toFixed(0)} (10th–90th percentile)`,
  );
  assert.ok(quantile(fastRates, 0.1) > trainedMax, 'the fast rigs are faster than any miner trained on');
  assert.ok(
    quantile(fastRates, 0.1) <= quantile(study, 0.5) && quantile(study, 0.5) <= quantile(fastRates, 0.9),
  );
  // The dataset's synthetic miners are the training rigs alone (FAST_RIGS are never in it).
  const made = compact(MINER_SEEDS.flatMap((s) => synthMinerSamples(s)));
  assert.deepEqual(
    made.samples,
    dataset.samples.filter((s) => s.family === 'stratum-synth'),
  );
});

test('held-out: miners faster than any trained on (fast rigs; a farm of 8 rigs behind one address) found where the form has record timing (pcap flows, NetFlow v5, IPFIX)', () => {
  for (const k of ['fast', 'farm'] as const) {
    console.log(minerLine(k));
    for (const form of ['synthetic-pcap', 'synthetic-netflow-v5', 'synthetic-ipfix-biflow'])
      assert.ok(atLeast90(miners[k].byForm[form]), `${k} ${form}: ${miners[k].byForm[form]}`);
  }
});

test(
  'held-out: miners faster than any trained on (fast rigs; a farm behind one address) found as Zeek rows',
  {
    todo: 'not met: behaviour-gbt/5 finds 16 of 60 Zeek rows of the fast rigs and 40 of 53 of the farms (one row per connection: the totals only); trained on (variants 29–32), they are found, but ordinary records called mining rise to 0.55–0.65 % in CV; docs/detection-rules.md',
  },
  () => {
    for (const k of ['fast', 'farm'] as const) console.log(minerLine(k));
    for (const k of ['fast', 'farm'] as const)
      assert.ok(atLeast90(miners[k].byForm['synthetic-zeek']), `${k}: ${miners[k].byForm['synthetic-zeek']}`);
  },
);
