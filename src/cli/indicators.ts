import type { Command } from 'commander';
import { addressesAsList } from '../indicators/apply.js';
import { IMPORT_LIMITS, type SkippedIndicator } from '../indicators/model.js';
import { readIndicatorFile } from '../indicators/read.js';
import { DuckDbDatabase } from '../store/duckdb/database.js';
import { DuckDbIndicatorStore } from '../store/duckdb/indicators.js';
import { DuckDbSanctionsStore } from '../store/duckdb/sanctions.js';
import { defaultDbPath } from '../store/store.js';
import { existingStore, parseFormat, parseWholeNumber, render } from './output.js';

export function register(program: Command): void {
  const ind = program
    .command('indicators')
    .description(
      'import indicators others share (STIX 2.1 bundles, MISP events, CSV) for detection and screening',
    );
  ind
    .command('import <file>')
    .description(
      'read a STIX bundle, MISP event or CSV: pool endpoints/domains go to detection, wallets to screening (re-run `coinradar detect` for stored flows)',
    )
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--source <name>', 'name of the source (default: what the file says, else its name)')
    .option('--max-bytes <n>', 'refuse a file larger than this', String(IMPORT_LIMITS.maxBytes))
    .action(async (file: string, o: { db: string; source?: string; maxBytes: string }) => {
      const maxBytes = parseWholeNumber('--max-bytes', o.maxBytes, 1);
      // Read and check the whole file before the store is opened: nothing of a refused file is kept.
      const p = readIndicatorFile(file, { source: o.source, maxBytes });
      const db = await DuckDbDatabase.open(o.db);
      try {
        const { set, existed } = await (await DuckDbIndicatorStore.attach(db)).save(p);
        let screening = '';
        if (p.addresses.length) {
          const s = await DuckDbSanctionsStore.attach(db);
          const { version } = await s.saveVersion(addressesAsList(p));
          screening = `, screening list ${version.list} version ${version.id}`;
        }
        process.stdout.write(
          `${existed ? 'already imported as' : 'imported'} set ${set.id}: ${p.format} from ${p.source}, version ${p.version}: ${p.read} read, ${p.infrastructure.length} infrastructure entries (detection), ${p.addresses.length} addresses (screening${screening}), ${p.skippedCount} skipped\n`,
        );
        // Reasons grouped with their values left out (a file may have thousands of one kind).
        const groups = new Map<string, { n: number; first: SkippedIndicator }>();
        for (const s of p.skipped) {
          const k = s.why.replace(/"[^"]*"/g, '…');
          const g = groups.get(k) ?? { n: 0, first: s };
          g.n++;
          groups.set(k, g);
        }
        for (const [k, g] of [...groups].sort((a, b) => b[1].n - a[1].n).slice(0, 10))
          process.stdout.write(
            g.n === 1
              ? `  skipped: ${g.first.where}: ${g.first.why}\n`
              : `  skipped ${g.n}: ${k} (first: ${g.first.where}: ${g.first.why})\n`,
          );
        if (p.skippedCount > p.skipped.length)
          process.stdout.write(`  (${p.skippedCount - p.skipped.length} more skipped, not kept)\n`);
      } finally {
        await db.close();
      }
    });
  ind
    .command('list')
    .description('the imported sets: source, format, version, entries, addresses, skipped')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(async (o: { db: string; format: string }) => {
      const format = parseFormat(o.format);
      const db = await DuckDbDatabase.open(existingStore(o.db));
      try {
        const sets = (await DuckDbIndicatorStore.present(db))
          ? await (await DuckDbIndicatorStore.attach(db)).sets()
          : [];
        const rows = sets.map((s) => ({
          id: s.id,
          source: s.source,
          format: s.format,
          version: s.version,
          infrastructure: s.infrastructure,
          addresses: s.addresses,
          skipped: s.skipped.length,
          imported_at: s.importedAt,
        }));
        process.stdout.write(render(rows, format) + '\n');
      } finally {
        await db.close();
      }
    });
}
