// `coinradar evaluate`: the shipped model scored on captures in every telemetry form. Checked against
// tshark (the Zeek form's one row per connection), the exporter's sampling, and the product's own
// path (`ingest --payload-bytes 0`, whose mining-behaviour detections name the same groups).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EVALUATION_FORMS,
  listed,
  parseMinerList,
  type Evaluation,
} from '../../src/detect/classifier/evaluate.js';
import {
  haveNetflowTools,
  minerKeys,
  readBatches,
  samplesOf,
  scenarioWorld,
  SCENARIO_RUNS,
} from '../../src/detect/classifier/dataset.js';
import { FEATURE_NAMES } from '../../src/detect/classifier/features.js';
import { judgeWindow, shippedModel } from '../../src/detect/classifier/model.js';
import { flowBatches } from '../../src/scenario/generate.js';
import { openFlowStore } from '../../src/store/open.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { runCli } from '../cli-run.js';

// Copies of the shared reference captures (test/fixtures/PROVENANCE.md).
const MINING = 'test/fixtures/pcap/ndpi/mining.pcapng';
const GNUTELLA = 'test/fixtures/pcap/ndpi/gnutella.pcap';
const NESFIT = 'test/fixtures/pcap/nesfit';
const form = (name: string) => EVALUATION_FORMS.find((f) => f.name === name)!;
const has = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0;

/** tshark's TCP conversations: "a:p <-> b:q" → duration (s). */
function tsharkConversations(path: string): Map<string, number> {
  const r = spawnSync('tshark', ['-n', '-q', '-z', 'conv,tcp', '-r', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, number>();
  for (const m of r.stdout.matchAll(/^(\S+)\s+<->\s+(\S+)\s.*\s([\d.]+)\s*$/gm))
    out.set(`${m[1]} ${m[2]}`, Number(m[3]));
  return out;
}

test('the Zeek form is one row per TCP connection: the conversations tshark lists, with their durations', async (t) => {
  if (!has('tshark')) return t.skip('tshark (Debian) is the reference');
  for (const path of [MINING, GNUTELLA]) {
    const conv = tsharkConversations(path);
    assert.ok(conv.size >= 4, `${path}: ${conv.size} TCP conversations`);
    // Rows per 5-tuple: a SYN after a reset starts a new connection (as Zeek's does), so tshark's
    // conversation (one per 5-tuple) may hold several; their spans fit inside it.
    const rows = new Map<string, number[]>();
    let pcapRows = 0;
    for (const b of await form('zeek').read(path))
      for (let i = 0; i < b.length; i++) {
        if (b.proto[i] !== 6) continue;
        const a = `${b.srcText(i)}:${b.srcPort[i]}`;
        const z = `${b.dstText(i)}:${b.dstPort[i]}`;
        const k = conv.has(`${a} ${z}`) ? `${a} ${z}` : `${z} ${a}`;
        rows.set(k, [...(rows.get(k) ?? []), (b.lastMs[i] - b.firstMs[i]) / 1000]);
      }
    for (const b of await form('pcap').read(path))
      for (let i = 0; i < b.length; i++) if (b.proto[i] === 6) pcapRows++;
    assert.deepEqual([...rows.keys()].sort(), [...conv.keys()].sort(), path);
    for (const [k, spans] of rows) {
      const secs = spans.reduce((a, x) => a + x, 0);
      if (spans.length === 1)
        assert.ok(Math.abs(secs - conv.get(k)!) < 0.002, `${k}: ${secs} s, tshark ${conv.get(k)} s`);
      else
        assert.ok(
          secs <= conv.get(k)! + 0.002,
          `${k}: ${spans.length} rows, ${secs} s in tshark's ${conv.get(k)} s`,
        );
    }
    if (path === MINING) {
      // Four long connections, no resets: one row each, while the capture's own flows cut them
      // (5-min active timeout, 60-s idle).
      assert.ok([...rows.values()].every((r) => r.length === 1));
      assert.ok(pcapRows > rows.size, `pcap form ${pcapRows} rows, Zeek form ${rows.size}`);
    }
  }
});

test('sampled NetFlow as the collector decodes it: softflowd samples 1 in N and the records say N', async (t) => {
  const missing = haveNetflowTools();
  if (missing.length) return t.skip(`${missing.join(', ')} (Debian) make the NetFlow forms`);
  const full = await form('netflow-v5').read(MINING);
  const sampled = await form('netflow-v5-1:10').read(MINING);
  let n = 0;
  let pk = 0;
  for (const b of sampled)
    for (let i = 0; i < b.length; i++, n++) {
      assert.equal(b.samplingRate[i], 10);
      pk += b.packets[i] * b.samplingRate[i];
    }
  let fullPk = 0;
  for (const b of full) for (let i = 0; i < b.length; i++) fullPk += b.packets[i];
  assert.ok(n > 0);
  // 1 in 10 of ~900 packets, scaled by the rate the records carry: the total within a third.
  assert.ok(Math.abs(pk - fullPk) / fullPk < 0.35, `sampled ${pk} packets scaled, unsampled ${fullPk}`);
});

test(
  'coinradar evaluate: figures per form add up, labels come from the payload rules, and the pcap form calls mining the groups `ingest --payload-bytes 0` does',
  { timeout: 300_000 },
  async (t) => {
    const missing = haveNetflowTools();
    const forms = ['pcap', 'pcap-60s', 'zeek', ...(missing.length ? [] : ['netflow-v5', 'netflow-v5-1:10'])];
    if (missing.length) t.diagnostic(`NetFlow forms left out: ${missing.join(', ')} not installed`);
    const dir = mkdtempSync(join(tmpdir(), 'cr-eval-'));
    try {
      const r = await runCli([
        'evaluate',
        NESFIT,
        MINING,
        GNUTELLA,
        '--forms',
        forms.join(','),
        '--format',
        'json',
      ]);
      assert.equal(r.exitCode, 0, r.err);
      const ev = JSON.parse(r.out) as Evaluation;
      assert.equal(ev.model, 'behaviour-gbt/5');
      assert.deepEqual(Object.keys(ev.figures), forms);
      // Every nesfit capture and mining.pcapng hold Stratum (the payload rules); gnutella none.
      for (const f of ev.files) assert.equal(f.minerGroups > 0, !f.path.endsWith('gnutella.pcap'), f.path);
      // nesfit's feature CSV is not flow data: ignored, and said.
      assert.deepEqual(
        ev.ignored.map((p) => p.split('/').pop()),
        ['flow-features-miners.csv'],
      );
      // mining.pcapng's three sessions of 17–19 min are the only ones of ≥ 5 min (nanopool's are
      // 3.6–5.9 min of packets, Ethereum's 4.9 min of windows).
      for (const name of forms) assert.equal(ev.figures[name].miners5min.of, 3, name);
      for (const k of ['miners5min', 'minersGated', 'ordinaryRecords', 'ordinaryGated'] as const)
        for (const c of ['hits', 'of'] as const)
          assert.equal(
            ev.total[k][c],
            forms.reduce((a, n) => a + ev.figures[n][k][c], 0),
            `${k}.${c}: every form is the sum of the forms`,
          );
      // Each error is listed once with its verdict: ordinary windows called mining, miners missed.
      const hits = ev.errors.filter((e) => e.label === 0);
      for (const name of forms)
        assert.equal(
          hits.filter((e) => e.form === name).reduce((a, e) => a + e.records, 0),
          ev.figures[name].ordinaryRecords.hits,
        );
      assert.ok(ev.errors.every((e) => (e.label === 0) === e.mining && e.score !== null));
      // The product's path on the same capture: the groups it calls mining-behaviour.
      const db = join(dir, 'e.duckdb');
      const ing = await runCli(['ingest', MINING, GNUTELLA, '--db', db, '--payload-bytes', '0', '--no-geo']);
      assert.equal(ing.exitCode, 0, ing.err);
      const store = await openFlowStore(db);
      let stored: string[];
      const explained = new Set<string>();
      try {
        const det = await openDetectionStore(store);
        const rows = await det.detections({ label: 'mining-behaviour' });
        stored = [...new Set(rows.map((x) => String((x.evidence as { group?: string }).group)))].sort();
        // The model adds a detection only to flows without a stronger one: here, pools' addresses
        // on the infrastructure list (mining-servers-2018-05).
        for (const x of await det.detections({}))
          if (x.confidence === 'payload' || x.confidence === 'infrastructure')
            explained.add(`${x.src} -> ${x.dst}:${x.dport}`);
      } finally {
        await store.close();
      }
      // evaluate's pcap form: the groups with a window called mining in mining.pcapng and gnutella.
      const j = await runCli([
        'evaluate',
        MINING,
        GNUTELLA,
        '--forms',
        'pcap',
        '--label',
        'ordinary',
        '--format',
        'json',
      ]);
      const called = [...new Set((JSON.parse(j.out) as Evaluation).errors.map((e) => e.key))].sort();
      assert.ok(called.length >= 4, `evaluate called ${called.length} groups mining`);
      assert.ok(
        explained.size >= 3 && stored.length >= 1,
        `${explained.size} explained, ${stored.length} stored`,
      );
      assert.deepEqual(
        called.filter((k) => !explained.has(k)),
        stored,
      );
      // Wrong input: a flow file without payload needs --label ordinary; a non-flow file is named.
      const zeek = join(dir, 'conn.log');
      writeFileSync(
        zeek,
        '#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tduration\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\n' +
          '1500000000.0\tC1\t10.0.0.1\t50000\t10.0.0.2\t443\ttcp\t600\t100\t10000\t100\t10000\n',
      );
      await assert.rejects(
        runCli(['evaluate', zeek]),
        /conn\.log: a zeek-\w+ file carries no payload.*--label ordinary/,
      );
      // The same log with its miner named (--miners): the row is a miner session of 10 min.
      const list = join(dir, 'miners.txt');
      writeFileSync(list, '# a pool endpoint\n10.0.0.2:443\n');
      const named = JSON.parse(
        (await runCli(['evaluate', zeek, '--miners', list, '--format', 'json'])).out,
      ) as Evaluation;
      assert.deepEqual(named.figures['as-read'].miners5min, {
        hits: named.figures['as-read'].miners5min.hits,
        of: 1,
      });
      assert.equal(named.figures['as-read'].minersGated.of, 1);
      assert.equal(named.figures['as-read'].ordinaryRecords.of, 0);
      const ok = await runCli(['evaluate', zeek, '--label', 'ordinary', '--format', 'json']);
      assert.equal(ok.exitCode, 0, ok.err);
      const okEv = JSON.parse(ok.out) as Evaluation;
      assert.deepEqual(Object.keys(okEv.figures), ['as-read']);
      assert.equal(okEv.figures['as-read'].ordinaryRecords.of, 1);
      await assert.rejects(
        runCli(['evaluate', join(NESFIT, 'flow-features-miners.csv')]),
        /flow-features-miners\.csv: not a format coinradar reads/,
      );
      await assert.rejects(
        runCli(['evaluate', MINING, '--forms', 'pcap,nope']),
        /no form nope \(forms: pcap, /,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('--miners: the groups the payload rules find, listed by hand, give the same figures; bad lines are named; --model scores another model file', async (t) => {
  const missing = haveNetflowTools();
  const forms = ['pcap', 'zeek', ...(missing.length ? [] : ['netflow-v5'])].join(',');
  const dir = mkdtempSync(join(tmpdir(), 'cr-eval-'));
  try {
    const keys = [...minerKeys(await readBatches(MINING, 2048))];
    assert.ok(keys.length >= 4, `${keys.length} miner groups`);
    const list = join(dir, 'miners.txt');
    writeFileSync(list, keys.map((k) => `${k}   # from the payload rules`).join('\n') + '\n');
    const run = async (args: string[]) =>
      JSON.parse(
        (await runCli(['evaluate', MINING, GNUTELLA, '--forms', forms, '--format', 'json', ...args])).out,
      ) as Evaluation;
    const byPayload = await run([]);
    const byList = await run(['--label', 'ordinary', '--miners', list]);
    assert.deepEqual(byList.figures, byPayload.figures);
    assert.deepEqual(byList.errors, byPayload.errors);
    assert.equal(byList.miners, list);
    // --model scores another model file: one whose threshold no score reaches calls nothing mining.
    const strict = join(dir, 'strict-model.json');
    writeFileSync(strict, JSON.stringify({ ...shippedModel(), threshold: 1.01 }));
    const none = await run(['--model', strict]);
    assert.equal(none.total.minersGated.of, byPayload.total.minersGated.of);
    assert.equal(none.total.minersGated.hits + none.total.ordinaryGated.hits, 0);
    assert.ok(byPayload.total.minersGated.hits > 0);
    // Endpoints and servers match every client; IPv6 is matched in its canonical form.
    const m = parseMinerList('185.71.66.39:9999\n94.23.199.191\n[2001:DB8:0::1]:3333\n', 'l');
    assert.ok(listed(m, '147.229.13.222 -> 185.71.66.39:9999'));
    assert.ok(listed(m, '192.168.2.148 -> 94.23.199.191:3333'));
    assert.ok(!listed(m, '192.168.2.148 -> 94.23.199.192:3333'));
    assert.ok(listed(m, '2001:db8::2 -> 2001:db8::1:3333'));
    assert.throws(
      () => parseMinerList('10.0.0.1:3333\nnot a miner\n', 'm.txt'),
      /^Error: m\.txt:2: not "client -> server:port"/,
    );
    assert.throws(() => parseMinerList('10.0.0.1:70000\n', 'm.txt'), /m\.txt:1:/);
    assert.throws(() => parseMinerList('# nothing\n', 'm.txt'), /m\.txt: no miner in the list/);
    if (missing.length) t.diagnostic(`NetFlow form left out: ${missing.join(', ')} not installed`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sampled records whose rate is lost (nfdump scales the counts, its CSV has no rate) are judged as with the rate: a scenario seed never trained on', () => {
  // The scenario generator's miners and background over one day, sampled as a router would, with
  // the rate known (what `collect` stores) and hidden (counts scaled, rate 1: what nfdump gives).
  const model = shippedModel();
  for (const [sampling, activeTimeoutS] of [
    [10, 60],
    [10, 300],
    [100, 300],
  ]) {
    assert.ok(!SCENARIO_RUNS.some((r) => r.seed === 201), 'seed 201 is not a training seed');
    const { world, miners } = scenarioWorld({ seed: 201, sampling, activeTimeoutS }, 1);
    const figures = (hide: boolean) => {
      const batches = [...flowBatches(world)];
      if (hide)
        for (const b of batches)
          for (let i = 0; i < b.length; i++) {
            const s = b.samplingRate[i];
            b.packets[i] *= s;
            b.bytes[i] *= s;
            b.revPackets[i] *= s;
            b.revBytes[i] *= s;
            b.samplingRate[i] = 1;
          }
      const f = { found: 0, miners: 0, fp: 0, records: 0, timed: 0 };
      for (const s of samplesOf(batches, { unit: '', family: '', variant: '' }, (k) =>
        miners.has(k) ? 1 : 0,
      )) {
        const mining = judgeWindow(model, s)?.mining ?? false;
        if (s.label === 1 && s.spanMs >= 300_000) {
          f.miners++;
          if (mining) f.found++;
          if (s.features[FEATURE_NAMES.indexOf('recordCountDispersion')] >= 0) f.timed++;
        } else if (s.label === 0) {
          f.records += s.records;
          if (mining) f.fp += s.records;
        }
      }
      return f;
    };
    const known = figures(false);
    const hidden = figures(true);
    const at = `1:${sampling}, active ${activeTimeoutS} s`;
    console.log(`${at}: rate known ${JSON.stringify(known)}; rate hidden ${JSON.stringify(hidden)}`);
    // With the rate known, sampled records carry no record timing; hidden, they do (and read as bursts).
    assert.equal(known.timed, 0, at);
    assert.ok(hidden.timed > 0, at);
    for (const f of [known, hidden]) {
      assert.ok(f.miners > 100 && f.found >= 0.9 * f.miners, `${at}: ${f.found}/${f.miners}`);
      assert.ok(f.fp <= 0.005 * f.records, `${at}: ${f.fp}/${f.records}`);
    }
  }
});

test('evaluate ended by SIGTERM to node alone leaves no nfcapd running and no spool directory', async (t) => {
  if (!existsSync('dist/cli/main.js')) return t.skip('dist/cli/main.js missing: run `npm run build` first');
  const missing = haveNetflowTools();
  if (missing.length) return t.skip(`${missing.join(', ')} not installed (Debian nfdump, softflowd)`);
  // Every capture in NetFlow v5, one nfcapd after another: long enough to catch one running.
  const node = spawn(
    process.execPath,
    ['dist/cli/main.js', 'evaluate', '--forms', 'netflow-v5', NESFIT, 'test/fixtures/pcap/ndpi'],
    {
      stdio: 'ignore',
    },
  );
  const children = () =>
    spawnSync('pgrep', ['-P', String(node.pid), 'nfcapd'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .map(Number);
  // An nfcapd of evaluate's and its spool directory (the argument after -w); one that ends between
  // being seen and being read is passed over for the next capture's.
  let nfcapd = 0;
  let dir = '';
  for (let k = 0; k < 600 && !dir && node.exitCode === null; k++) {
    nfcapd = children()[0] ?? 0;
    try {
      const argv = nfcapd ? readFileSync(`/proc/${nfcapd}/cmdline`, 'utf8').split('\0') : [];
      dir = argv.includes('-w') ? argv[argv.indexOf('-w') + 1] : '';
    } catch {
      dir = '';
    }
    if (!dir) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(nfcapd && dir, 'an nfcapd started by evaluate was seen, with its -w directory');
  const exit = new Promise<NodeJS.Signals | number | null>((r) => node.once('exit', (c, s) => r(s ?? c)));
  node.kill('SIGTERM');
  assert.equal(await exit, 'SIGTERM', 'the process ends as SIGTERM ends it');
  // nfcapd was killed (reaped by init once its parent is gone) and its directory removed.
  let alive = true;
  for (let k = 0; k < 100 && alive; k++) {
    const st = existsSync(`/proc/${nfcapd}/stat`) ? readFileSync(`/proc/${nfcapd}/stat`, 'utf8') : '';
    alive = st !== '' && !/^\d+ \([^)]*\) Z/.test(st) && st.includes('(nfcapd)');
    if (alive) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(alive, false, `nfcapd ${nfcapd} still running after evaluate was ended`);
  assert.equal(existsSync(dir), false, `${dir} left behind`);
});
