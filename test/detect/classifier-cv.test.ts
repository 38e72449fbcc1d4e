// The behaviour model is data: a rebuild from the shipped dataset must give the shipped model
// byte for byte (its manifest, with the cross-validated figures, included); the figures are
// computed here from the dataset by grouped k-fold (a capture never on both sides), and held to
// the targets. Where the reference captures are present, the dataset's inputs are checked
// against them and a few captures' windows are derived again from the packets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  crossValidate,
  cvUnits,
  datasetText,
  eligible,
  foldsOf,
  modelText,
  sha256Text,
  trainModel,
  codeVersion,
  type Dataset,
} from '../../src/detect/classifier/train.js';
import {
  captureSamples,
  readBatches,
  samplesOf,
  minerKeys,
  sha256File,
} from '../../src/detect/classifier/dataset.js';
import { MODEL_URL } from '../../src/detect/classifier/model.js';

const DATASET = new URL('../../src/detect/data/behaviour-dataset.json', import.meta.url);
const datasetRaw = readFileSync(DATASET, 'utf8');
const dataset = JSON.parse(datasetRaw) as Dataset;
const shippedText = readFileSync(MODEL_URL, 'utf8');
const shipped = JSON.parse(shippedText);
const SHARED = resolve(process.env.COINRADAR_SHARED_DATA ?? '../shared/data');

// One CV run for every test below (the run trains 5 models).
const cv = crossValidate(dataset);

test('the shipped model is what `npm run train:classifier -- --from-dataset` rebuilds', () => {
  assert.equal(datasetText(dataset), datasetRaw, 'the dataset file is in its canonical form');
  assert.equal(sha256Text(datasetRaw), shipped.manifest.dataset.sha256, 'manifest names this dataset');
  assert.equal(
    shipped.manifest.codeSha256,
    codeVersion(),
    'model built by this code (rerun training after changing it)',
  );
  const rebuilt = modelText(trainModel(dataset, sha256Text(datasetRaw), cv));
  assert.equal(rebuilt, shippedText);
});

test('folds are grouped by capture: no CV unit on both sides, sessions shared by captures merged', () => {
  const folds = foldsOf(dataset.samples);
  const units = cvUnits(dataset.samples);
  const foldOfRoot = new Map<string, number>();
  for (const [u, root] of units) {
    const f = folds.get(u)!;
    if (foldOfRoot.has(root)) assert.equal(foldOfRoot.get(root), f, `${u} with ${root}`);
    foldOfRoot.set(root, f);
  }
  // ndpi's mining.pcapng carries nanopool's Ethereum session: one unit.
  assert.equal(units.get('ndpi/mining.pcapng'), units.get('nesfit/eth-eu1.nanopool.org.pcapng'));
  // Every fold has positives to test on.
  for (let f = 0; f < 5; f++)
    assert.ok(
      dataset.samples.some((s) => s.label === 1 && folds.get(s.unit) === f),
      `fold ${f} has miners`,
    );
});

test('cross-validated figures, computed here from the data, are the ones in the manifest', () => {
  console.log(JSON.stringify(cv, null, 1));
  assert.ok(cv.tprReal5min.of >= 6, `real ≥ 5-min session windows to judge (${cv.tprReal5min.of})`);
  assert.ok(cv.fprFlowsPcap.of > 2000, 'thousands of ordinary flows');
  assert.ok(cv.units.negative > 150, `over 150 CV units without miners (${cv.units.negative})`);
  assert.deepEqual(JSON.parse(JSON.stringify(cv)), shipped.manifest.cv, 'the manifest carries these figures');
});

// The targets. Those the cross-validation does not reach yet are marked todo (the runner
// prints them and their figures without failing the suite); docs/detection-rules.md says why.
test('target: scenario-generator miners with ≥ 5 min in a window found ≥ 90 %', () => {
  assert.ok(
    cv.tprScenario5min.hits >= 0.9 * cv.tprScenario5min.of,
    `${cv.tprScenario5min.hits}/${cv.tprScenario5min.of}`,
  );
});

test('target: ordinary records called mining ≤ 0.5 % (real captures, every variant)', () => {
  // Exact, not the manifest's rounded rate. Met again since behaviour-gbt/5 (59/14,264, 0.41 %;
  // the bags of seeds 1–5 and 6–10 give 51 and 59): /4 gave 52/10,336 (0.503 %).
  const { hits, of } = cv.fprRecordsReal;
  assert.ok(hits <= 0.005 * of, `${hits}/${of}`);
});

test('target: real miner sessions with ≥ 5 min of shares found from flows alone ≥ 90 %', () => {
  assert.ok(cv.tprReal5min.hits >= 0.9 * cv.tprReal5min.of, `${cv.tprReal5min.hits}/${cv.tprReal5min.of}`);
});

test('target: ordinary flows (real captures as pcap flows) called mining ≤ 0.5 %', () => {
  // The trees alone (every server port judged) call 13 of 2,565 (0.51 %): 8 of them one Bitcoin P2P
  // connection on 8333, a port the model does not judge (service-ports.ts).
  console.log(
    `pcap flows: ${cv.fprFlowsPcap.hits}/${cv.fprFlowsPcap.of}; the trees alone: ${cv.modelAlone.fprFlowsPcap.hits}/${cv.modelAlone.fprFlowsPcap.of}`,
  );
  assert.ok(
    cv.fprFlowsPcap.hits <= 0.005 * cv.fprFlowsPcap.of,
    `${cv.fprFlowsPcap.hits}/${cv.fprFlowsPcap.of}`,
  );
});

function noKeepaliveHits(f: string): void {
  const [hits, of] = cv.keepaliveByFamily[f].split('/').map(Number);
  assert.ok(of > 100, `${f}: windows judged (${of})`);
  assert.equal(hits, 0, `${f}: ${cv.keepaliveByFamily[f]}`);
}

test('target: MQTT, push and IMAP-IDLE keep-alive windows not called mining (CV, held-out seeds)', () => {
  for (const f of ['mqtt', 'push', 'imap-idle']) noKeepaliveHits(f);
});

test(
  'target: WebSocket keep-alive windows not called mining (CV, held-out seeds)',
  {
    todo: 'not met in CV: WebSocket 2/647 (one window, as pcap flows and as NetFlow v5; 2–3 over the bags tried); the held-out seeds give 0/409 (classifier-heldout.test.ts); docs/detection-rules.md',
  },
  () => noKeepaliveHits('websocket'),
);

test('target: SSH keep-alive windows not called mining (CV, held-out seeds)', () => {
  // Port 22 is not judged; the trees alone call none of them mining either.
  assert.equal(
    cv.keepaliveByFamily['ssh-idle'].split('/')[0],
    '0',
    `ssh ${cv.keepaliveByFamily['ssh-idle']}`,
  );
});

test('target: OpenVPN-over-TCP keep-alive windows not called mining (CV)', () => {
  // 0/632 with the shipped bag since behaviour-gbt/5; the bags of seeds 1–5 and 6–10 call one Zeek
  // row mining (docs/detection-rules.md), and the held-out seeds two (classifier-heldout.test.ts).
  assert.equal(
    cv.keepaliveByFamily['vpn-tcp'].split('/')[0],
    '0',
    `vpn-tcp ${cv.keepaliveByFamily['vpn-tcp']}`,
  );
});

test('dataset inputs are the reference captures; windows derive again from the packets', async (t) => {
  if (!existsSync(join(SHARED, 'pcap/nesfit'))) {
    t.skip(`reference data not at ${SHARED} (set COINRADAR_SHARED_DATA)`);
    return;
  }
  for (const i of dataset.inputs) assert.equal(sha256File(join(SHARED, i.path)), i.sha256, i.path);
  for (const [family, name] of [
    ['nesfit', 'xmr-eu1.nanopool.org.pcapng'],
    ['ndpi', 'mining.pcapng'],
    ['ndpi-train', 'openvpn.pcap'],
  ]) {
    const path = join(SHARED, 'pcap', family, name);
    const mine = (await captureSamples({ path, family, labelByPayload: true }, false)).filter(
      (s) => s.label === 1 || eligible(s),
    );
    const ofUnit = (variant: string) =>
      dataset.samples.filter((s) => s.unit === `${family}/${name}` && s.variant === variant);
    // The capture read three ways: cut every 5 min (the reader's default), every 60 s, and one row
    // per connection as Zeek has it.
    assert.deepEqual(
      mine,
      [...ofUnit('pcap'), ...ofUnit('pcap-60s'), ...ofUnit('zeek')],
      `${name}: pcap windows`,
    );
    const shippedRows = ofUnit('pcap');
    // The same capture with payload stripped (ingest --payload-bytes 0) gives the same windows:
    // the features never read payload (labels still come from the payload read).
    const miners = minerKeys(await readBatches(path, 2048));
    const stripped = samplesOf(
      await readBatches(path, 0),
      { unit: `${family}/${name}`, family, variant: 'pcap' },
      (k) => (miners.has(k) ? 1 : 0),
    ).filter((s) => s.label === 1 || eligible(s));
    assert.deepEqual(stripped, shippedRows, `${name}: payload-less windows`);
  }
});
