// Long-lived channels that fooled the old rules on an office network (MQTT over TLS keep-alives on
// 8883, a push channel on 443) must not be called mining by the model, in any telemetry format, in
// the streaming hook or the store pass; a hand-made Stratum session in the same formats must be.
// The patterns are written here from protocol defaults, not taken from the training generator
// (src/detect/classifier/keepalive.ts), so the model has not seen these exact series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TCP_FIN } from '../../src/flow/record.js';
import { ZEEK_CONN_FIELDS, ZEEK_CONN_TYPES } from '../../src/netflow/zeek.js';
import { readBatches } from '../../src/detect/classifier/dataset.js';
import { BehaviourTracker } from '../../src/detect/classifier/tracker.js';
import { shippedModel, gated, judge, judgeWindow } from '../../src/detect/classifier/model.js';
import { SERVICE_PORTS_NOT_JUDGED } from '../../src/detect/classifier/service-ports.js';
import { serverPortOf } from '../../src/detect/classifier/features.js';
import type { Dataset } from '../../src/detect/classifier/train.js';
import { collectGroups, windowSamples } from '../../src/detect/classifier/groups.js';
import {
  batchesOf,
  recordsOf,
  session,
  SYNTH_FORMATS,
  type SynthConnection,
} from '../../src/detect/classifier/synth.js';

const T0 = Date.UTC(2025, 2, 3, 8);
const MIN = 60_000;

/** MQTT 3.1.1 over TLS: keepalive 60 s (PINGREQ/PINGRESP, 2 B each + TLS record = ~83 B IP), a
 * sensor publish every 5 min, one connection for 4 hours then a reconnect (to `serverPort`: 8883, or
 * 443 for MQTT over WebSockets, a port the model judges). */
function mqtt(serverPort = 8883): SynthConnection[] {
  const out: SynthConnection[] = [];
  let t = T0;
  for (let c = 0; c < 2; c++) {
    const end = t + 4 * 60 * MIN;
    const ex: { t: number; up: boolean; bytes: number }[] = [];
    for (let p = t + MIN; p < end; p += MIN) {
      ex.push({ t: p, up: true, bytes: 83 }, { t: p + 35, up: false, bytes: 83 });
    }
    for (let p = t + 5 * MIN + 7000; p < end; p += 5 * MIN) ex.push({ t: p, up: true, bytes: 240 });
    ex.sort((a, b) => a.t - b.t);
    out.push(
      session(
        { client: '10.1.2.3', server: '203.0.113.40', clientPort: 51000 + c, serverPort },
        t,
        end,
        ex,
        true,
      ),
    );
    t = end + 5000;
  }
  return out;
}

/** A push channel on 443: a heartbeat every 4.5 min, ~10 notifications an hour of 0.4–2 KB down. */
function push(): SynthConnection[] {
  const end = T0 + 6 * 60 * MIN;
  const ex: { t: number; up: boolean; bytes: number }[] = [];
  for (let p = T0 + 270_000; p < end; p += 270_000)
    ex.push({ t: p, up: true, bytes: 120 }, { t: p + 80, up: false, bytes: 110 });
  for (let k = 0; k < 60; k++)
    ex.push({ t: T0 + 300_000 + k * 353_000, up: false, bytes: 400 + ((k * 397) % 1600) });
  ex.sort((a, b) => a.t - b.t);
  return [
    session(
      { client: '10.1.2.4', server: '198.51.100.80', clientPort: 49152, serverPort: 443 },
      T0,
      end,
      ex,
      false,
    ),
  ];
}

/** Stratum (Bitcoin-style): a job (mining.notify, ~700 B) every 30 s, a share (~190 B) every ~20 s,
 * results (~80 B) back; one connection for 3 hours (to `serverPort`, 3333 by default). */
function stratum(serverPort = 3333): SynthConnection[] {
  const end = T0 + 3 * 60 * MIN;
  const ex: { t: number; up: boolean; bytes: number }[] = [];
  for (let p = T0 + 1000; p < end; p += 30_000) ex.push({ t: p, up: false, bytes: 650 + ((p / 1000) % 100) });
  for (let p = T0 + 7000, k = 0; p < end; p += 8000 + ((k++ * 7919) % 24000)) {
    ex.push({ t: p, up: true, bytes: 190 }, { t: p + 60, up: false, bytes: 80 });
  }
  ex.sort((a, b) => a.t - b.t);
  return [
    session({ client: '10.1.2.5', server: '192.0.2.33', clientPort: 50500, serverPort }, T0, end, ex, false),
  ];
}

/** Rows called mining by the hook (tracker over batches of 64 rows) and by the store pass. */
function verdicts(conns: SynthConnection[], format: (typeof SYNTH_FORMATS)[number]) {
  const model = shippedModel();
  const tracker = new BehaviourTracker(model);
  let hook = 0;
  let rows = 0;
  const batches = batchesOf(conns, format, 64);
  for (const b of batches) {
    rows += b.length;
    hook += tracker.batch(b).length;
  }
  const c = collectGroups(batches);
  let pass = 0;
  let windows = 0;
  let judged = 0;
  for (const g of c.groups.values()) {
    for (const w of windowSamples(g, model.windowMs)) {
      windows++;
      const v = judgeWindow(model, w);
      if (!v) continue;
      judged++;
      if (v.mining) pass += w.ids.length;
    }
  }
  return { rows, hook, pass, windows, judged };
}

for (const [name, make, judged] of [
  ['MQTT over TLS keep-alive on 8883 (a port not judged)', () => mqtt(8883), false],
  ['the same MQTT keep-alive on 443 (judged by the trees)', () => mqtt(443), true],
  ['push channel on 443', push, true],
] as const) {
  test(`${name} is not called mining (every format, hook and store pass)`, () => {
    for (const f of SYNTH_FORMATS) {
      const v = verdicts(make(), f);
      assert.ok(v.rows > 0 && v.judged > 0 === judged, `${f}: windows judged (${JSON.stringify(v)})`);
      assert.equal(v.hook, 0, `${f}: hook rows called mining ${JSON.stringify(v)}`);
      assert.equal(v.pass, 0, `${f}: store-pass rows called mining ${JSON.stringify(v)}`);
    }
  });
}

test('a hand-made Stratum session is called mining in every format (the test can fail)', () => {
  for (const f of SYNTH_FORMATS) {
    const v = verdicts(stratum(), f);
    assert.ok(v.hook > 0, `${f}: hook found it ${JSON.stringify(v)}`);
    assert.equal(v.pass, v.rows, `${f}: the store pass calls every record of it ${JSON.stringify(v)}`);
  }
});

test('the same Stratum session to a port the model does not judge (22, 1194, 8333) is not called mining; to 2222 it is (hook and store pass)', () => {
  for (const f of SYNTH_FORMATS) {
    for (const port of [22, 1194, 8333]) {
      const v = verdicts(stratum(port), f);
      assert.ok(v.rows > 0, `${f} ${port}`);
      assert.equal(v.hook, 0, `${f} port ${port}: hook ${JSON.stringify(v)}`);
      assert.equal(v.pass, 0, `${f} port ${port}: store pass ${JSON.stringify(v)}`);
      assert.equal(v.judged, 0, `${f} port ${port}: no window judged`);
    }
    const v = verdicts(stratum(2222), f);
    assert.ok(v.hook > 0 && v.pass === v.rows, `${f} port 2222: ${JSON.stringify(v)}`);
  }
});

test('the ports not judged: none is a port of the 2018 pool catalogue or of a labelled miner in the training data; the shipped model carries them', () => {
  const ports = SERVICE_PORTS_NOT_JUDGED.map(([p]) => p);
  assert.deepEqual(shippedModel().gate.serverPortsNotJudged, ports);
  const catalogue = readFileSync(
    new URL('../../src/detect/data/mining-servers-2018-05.csv', import.meta.url),
    'utf8',
  )
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => Number(l.split(',')[4]));
  assert.ok(catalogue.length > 1000 && catalogue.every((p) => p > 0), 'the catalogue read');
  const dataset = JSON.parse(
    readFileSync(new URL('../../src/detect/data/behaviour-dataset.json', import.meta.url), 'utf8'),
  ) as Dataset;
  const minerPorts = dataset.samples.filter((s) => s.label === 1).map((s) => serverPortOf(s.key));
  assert.ok(minerPorts.includes(3333) && minerPorts.includes(443), 'miner ports read');
  for (const p of ports) {
    assert.ok(!catalogue.includes(p), `port ${p} is in the pool catalogue`);
    assert.ok(!minerPorts.includes(p), `port ${p} has a labelled miner`);
  }
});

/** Zeek's conn.log (TSV) for connections, one row each, as `recordsOf(…, 'zeek')` cuts them. */
function connLog(conns: SynthConnection[]): string {
  const sec = (ms: number) => (ms / 1000).toFixed(6);
  const rows = conns.flatMap((c, k) =>
    recordsOf(c, 'zeek').map((r) => {
      const closed = (r.tcpFlags & TCP_FIN) !== 0;
      return [
        sec(r.firstMs), `C${k}`, r.src, r.srcPort, r.dst, r.dstPort, 'tcp', '-', sec(r.lastMs - r.firstMs),
        r.bytes - 52 * r.packets, r.revBytes - 52 * r.revPackets, closed ? 'SF' : 'S1', '-', '-', 0,
        closed ? 'ShADadFf' : 'ShADad', r.packets, r.bytes, r.revPackets, r.revBytes, '-',
      ].join('\t'); // prettier-ignore
    }),
  );
  return [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    '#path\tconn',
    `#fields\t${ZEEK_CONN_FIELDS.join('\t')}`,
    `#types\t${ZEEK_CONN_TYPES.join('\t')}`,
    ...rows,
    '',
  ].join('\n');
}

test('the same patterns as a real Zeek conn.log, read by the Zeek reader: same verdicts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-cls-zeek-'));
  try {
    const model = shippedModel();
    for (const [name, make, mining] of [
      ['mqtt', () => mqtt(443), false],
      ['push', push, false],
      ['stratum', stratum, true],
    ] as const) {
      const path = join(dir, `${name}.log`);
      writeFileSync(path, connLog(make()));
      const batches = await readBatches(path, 0);
      assert.equal(batches[0].source, path, 'read as a file');
      const groups = [...collectGroups(batches).groups.values()];
      const fromReader = groups.flatMap((g) => windowSamples(g, model.windowMs));
      const fromSynth = [...collectGroups(batchesOf(make(), 'zeek')).groups.values()].flatMap((g) =>
        windowSamples(g, model.windowMs),
      );
      assert.equal(fromReader.length, fromSynth.length, name);
      fromReader.forEach((w, k) => {
        for (let f = 0; f < w.features.length; f++)
          assert.ok(Math.abs(w.features[f] - fromSynth[k].features[f]) < 1e-6, `${name} feature ${f}`);
        const judged = gated(model, w.spanMs, w.packets) && judge(model, w.features).mining;
        assert.equal(judged, mining, `${name} window ${k}`);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
