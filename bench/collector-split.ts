/**
 * Where the live collector's storing thread spends its wall time, in-process: the stream of
 * bench/netflow.ts decoded into 4096-row batches, then stored as NetflowCollector#store does —
 * enrich, the live segment writer's append, the detection hook — with a commit (checkpoint: the
 * segment file, the rollup, COMMIT) every `perCommit` batches (49 ≈ one a second at 200 k flows/s).
 * Wall time per part, detection on and off, on one DuckDB file each.
 *
 *   node --import tsx bench/collector-split.ts [flows=1000000] [mix percent, or "crypto"=2] [perCommit=49]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnricher } from '../src/cli/enricher.js';
import { detectionHookFor } from '../src/detect/pipeline.js';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { benchMix, decodedBenchStream, mixWords } from './collector-stream.js';
import { openFlowStore } from '../src/store/open.js';

const FLOWS = Number(process.argv[2] ?? 1_000_000);
const MIXARG = process.argv[3] ?? '2';
const PER_COMMIT = Number(process.argv[4] ?? 49);
const MIX = benchMix(MIXARG);

const batches = decodedBenchStream(FLOWS, MIX);
const flows = batches.reduce((n, b) => n + b.length, 0);
const enricher = (await loadEnricher({ geo: true }))!;
const dir = mkdtempSync(join(tmpdir(), 'cr-collector-split-'));
process.stdout.write(
  `${flows} flows (${mixWords(MIX)}), a commit every ${PER_COMMIT} batches; load ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}\n`,
);
try {
  for (const detect of [true, false]) {
    const store = await openFlowStore(join(dir, `${detect}.duckdb`));
    const detection = detect ? await detectionHookFor(store) : undefined;
    const w = await store.beginSource({ name: 'udp://bench', kind: 'netflow-live' }, { live: true });
    detection?.hook.holdUntilCommit();
    const t = { enrich: 0, append: 0, hook: 0, held: 0, commit: 0 };
    const cpu0 = process.cpuUsage();
    let n = 0;
    const commit = async () => {
      let a = performance.now();
      await detection?.hook.beforeCommit();
      t.held += performance.now() - a;
      a = performance.now();
      await w.checkpoint();
      t.commit += performance.now() - a;
    };
    for (const b of batches) {
      let a = performance.now();
      const e = enricher.enrich(b);
      t.enrich += performance.now() - a;
      a = performance.now();
      const first = await w.append(b, e);
      t.append += performance.now() - a;
      a = performance.now();
      await detection?.hook(b, e, first);
      t.hook += performance.now() - a;
      if (++n % PER_COMMIT === 0) await commit();
    }
    await commit();
    await w.commit(new Diagnostics());
    const c = process.cpuUsage(cpu0);
    await store.close();
    const us = (ms: number) => ((ms * 1000) / flows).toFixed(2);
    process.stdout.write(
      `detection ${detect ? 'on ' : 'off'}: wall µs per flow: enrich ${us(t.enrich)}, segment append ${us(t.append)}, detection hook ${us(t.hook)}, held detections written ${us(t.held)}, commits (segment file, rollup, COMMIT) ${us(t.commit)}; process CPU ${((c.user + c.system) / flows).toFixed(2)} µs per flow (DuckDB's threads included)${detect ? `; ${detection!.summary()}` : ''}\n`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
