import type { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectionHookFor } from '../detect/pipeline.js';
import { ingestFile } from '../flow/ingest.js';
import '../flow/all-formats.js';
import { openFlowStore } from '../store/open.js';
import { loadEnricher } from './enricher.js';
import { Progress } from './progress.js';
import { formatSummary } from './summary.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function captures(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) out.push(...captures(p));
    else if (/\.pcap(ng)?$/.test(name.name)) out.push(p);
  }
  return out.sort();
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('the main job on the embedded default: ingest the real captures shipped in test/fixtures into a DuckDB file and summarise them')
    .option('--out <dir>', 'output directory', 'out/demo')
    .action(async (o: { out: string }) => {
      mkdirSync(o.out, { recursive: true });
      const db = join(o.out, 'demo.duckdb');
      rmSync(db, { force: true });
      rmSync(`${db}.wal`, { force: true });
      const dir = join(ROOT, 'test', 'fixtures', 'pcap');
      if (!existsSync(dir)) throw new Error(`no captures at ${dir}`);
      const files = captures(dir);
      const store = await openFlowStore(db);
      const enricher = await loadEnricher({ geo: true });
      const detection = await detectionHookFor(store);
      const progress = new Progress('demo: ingest', files.length);
      let flows = 0;
      let problems = 0;
      try {
        for (const [k, f] of files.entries()) {
          progress.update(k, relative(ROOT, f));
          const r = await ingestFile(f, { store, enricher, hooks: [detection.hook] });
          flows += r.flows;
          problems += r.diagnostics.get('problems');
          if (r.error) process.stderr.write(`warning: ${r.error}\n`);
        }
        progress.done();
        process.stdout.write(`ingested ${files.length} real captures (test/fixtures/pcap) → ${flows} flows, ${problems} input problems\n`);
        process.stdout.write(`detections: ${detection.summary()}\n`);
        process.stdout.write(`database: ${db}\n\n`);
        process.stdout.write(formatSummary(await store.summary({ top: 10 })) + '\n');
      } finally {
        await store.close();
      }
    });
}
