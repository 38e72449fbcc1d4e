import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { Diagnostics, formatProblem } from '../flow/diagnostics.js';
import { diffLists } from '../sanctions/diff.js';
import { loadListFiles } from '../sanctions/load.js';
import type { ListFormat, ParsedList } from '../sanctions/model.js';
import { SHRINK_LIMIT, shrinkage, shrinkProblem, wouldBeCurrent } from '../sanctions/shrink.js';
import { formatSkipped } from '../sanctions/skipped.js';
import { openSanctionsStore, type SanctionsStore } from '../store/sanctions.js';
import { defaultDbPath } from '../store/store.js';
import { parseFormat, render } from './output.js';

const FORMATS: ListFormat[] = ['sdn-csv', 'sdn-advanced-xml', 'address-json', 'address-csv'];

interface LoadFlags {
  db: string;
  list?: string;
  published?: string;
  format?: string;
  allowPartial?: boolean;
  allowShrink?: boolean;
}

/** Refuse a version that would replace the current one of its list and drop too much of it. */
async function refuseShrink(store: SanctionsStore, next: ParsedList): Promise<void> {
  const current = (await store.currentVersions()).find((v) => v.list === next.list);
  if (!current || current.checksum === next.checksum || !wouldBeCurrent(next.published, current)) return;
  const prev = { entities: await store.entities(current.id), addresses: await store.addresses(current.id) };
  const why = shrinkProblem(shrinkage(current.id, prev, next));
  if (why) throw new Error(`refused: ${why}; nothing was stored (version ${current.id} still screens)`);
}

/** "version 3 (ofac-sdn, 2024-09-26)" or "sdn.zip (ofac-sdn, 2022-01-14)". */
function describe(v: { id: number | string; list: string; published: string | null }): string {
  return `${typeof v.id === 'number' ? `version ${v.id}` : v.id} (${v.list}, ${v.published ?? 'unknown'})`;
}

export function register(program: Command): void {
  const cmd = program
    .command('sanctions')
    .description('load sanctions lists (every load is a version), list versions, diff them');

  cmd
    .command('load')
    .description(
      'load a list: sdn.csv [add.csv alt.csv sdn_comments.csv] | sdn_advanced.xml | sanctioned_addresses_*.json (or their folder) | coin,address,label[,entity] CSV',
    )
    .argument('<file...>')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option(
      '--list <name>',
      'which list this is a version of (default: ofac-sdn for OFAC formats, the file name for a user CSV)',
    )
    .option(
      '--published <date>',
      'publication date (the SDN Advanced XML states its own; the CSV and JSON formats do not)',
    )
    .option('--format <f>', `force the input format: ${FORMATS.join(' | ')}`)
    .option(
      '--allow-partial',
      'load a list some rows of which cannot be read (each is printed and stored with the version, which is marked partial); without it such a list is refused',
    )
    .option(
      '--allow-shrink',
      `load a version that drops more than ${(100 * SHRINK_LIMIT).toFixed(0)} % of the addresses or entities of the version screening uses now`,
    )
    .action(async (files: string[], o: LoadFlags) => {
      if (o.format && !FORMATS.includes(o.format as ListFormat))
        throw new Error(`--format must be one of ${FORMATS.join(', ')}`);
      let shown = 0;
      const diagnostics = new Diagnostics(100, (p) => {
        if (shown++ < 20) process.stderr.write(`${formatProblem(p)}\n`);
      });
      const parsed = await loadListFiles(files, {
        list: o.list,
        published: o.published,
        format: o.format as ListFormat | undefined,
        diagnostics,
        allowPartial: o.allowPartial === true,
      });
      // Every row left out, not the first twenty: a partial list is loaded only with its gaps named.
      for (const r of parsed.skipped) process.stderr.write(`${formatSkipped(r)} (skipped)\n`);
      const store = await openSanctionsStore(o.db);
      try {
        if (!o.allowShrink) await refuseShrink(store, parsed);
        const { version, existed } = await store.saveVersion(parsed);
        const coins = new Map<string, number>();
        for (const a of parsed.addresses) coins.set(a.coin, (coins.get(a.coin) ?? 0) + 1);
        process.stdout.write(
          `${existed ? 'already loaded as' : 'loaded'} version ${version.id} of ${version.list} (${version.format}, published ${version.published ?? 'unknown'}, sha256 ${version.checksum.slice(0, 16)}…)\n` +
            (version.partial
              ? `PARTIAL: ${version.skipped.length} row(s) could not be read and are not in this version (listed above; stored with it)\n`
              : '') +
            `${version.entities} entities, ${version.addresses} digital-currency addresses (${version.invalidAddresses} failed validation)\n` +
            `by coin: ${[...coins]
              .sort((a, b) => b[1] - a[1])
              .map(([c, n]) => `${c} ${n}`)
              .join(', ')}\n` +
            `${diagnostics.summary()}\n`,
        );
      } finally {
        await store.close();
      }
    });

  cmd
    .command('versions')
    .description('every stored list version (current = newest publication of each list)')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--list <name>', 'only this list')
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action(async (o: { db: string; list?: string; format: string }) => {
      const format = parseFormat(o.format);
      const store = await openSanctionsStore(o.db);
      try {
        const current = new Set((await store.currentVersions()).map((v) => v.id));
        const rows = (await store.versions(o.list)).map((v) => ({
          id: v.id,
          list: v.list,
          current: current.has(v.id) ? 'yes' : '',
          format: v.format,
          published: v.published ?? '',
          loaded: v.loadedAt,
          entities: v.entities,
          addresses: v.addresses,
          invalid: v.invalidAddresses,
          partial: v.partial ? 'yes' : '',
          skipped: format === 'json' || format === 'jsonl' ? v.skipped : v.skipped.length,
          sha256: format === 'table' ? v.checksum.slice(0, 16) : v.checksum,
        }));
        process.stdout.write(render(rows, format) + '\n');
      } finally {
        await store.close();
      }
    });

  cmd
    .command('diff')
    .description(
      'entities and addresses added, removed and changed from A to B: each a stored version id, or list files (a file, a folder or a .zip; .bz2/.gz/.zst/.xz read directly) diffed without storing them',
    )
    .argument('<A>', 'version id (see `sanctions versions`) or list file/folder/zip')
    .argument('<B>', 'version id or list file/folder/zip')
    .option('--db <file>', 'DuckDB file for version ids (or COINRADAR_DB)', defaultDbPath())
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .option('--allow-partial', 'diff list files some rows of which cannot be read (refused without it)')
    .action(async (a: string, b: string, o: { db: string; format: string; allowPartial?: boolean }) => {
      const format = parseFormat(o.format);
      // A stored version when the argument is a number that names no file; list files otherwise.
      const isVersion = (x: string) => /^\d+$/.test(x) && !existsSync(x);
      const store = isVersion(a) || isVersion(b) ? await openSanctionsStore(o.db) : undefined;
      try {
        const side = async (x: string) => {
          if (!isVersion(x)) {
            const l = await loadListFiles([x], { allowPartial: o.allowPartial === true });
            const v = { id: x, list: l.list, published: l.published, files: l.files, checksum: l.checksum };
            return { v, entities: l.entities, addresses: l.addresses };
          }
          const v = await store!.version(Number(x));
          if (!v) throw new Error(`no list version ${x} (see \`coinradar sanctions versions\`)`);
          return { v, entities: await store!.entities(v.id), addresses: await store!.addresses(v.id) };
        };
        const A = await side(a);
        const B = await side(b);
        const d = diffLists(A, B);
        if (format === 'json') {
          process.stdout.write(JSON.stringify({ from: A.v, to: B.v, ...d }, null, 2) + '\n');
          return;
        }
        const rows = [
          ...d.entities.map((e) => ({
            what: 'entity',
            change: e.change,
            coin: '',
            address: '',
            entity_id: e.id,
            entity: e.name,
            detail: e.detail ?? '',
          })),
          ...d.addresses.map((x) => ({
            what: 'address',
            change: x.change,
            coin: x.coin,
            address: x.address,
            entity_id: x.entityId ?? '',
            entity: x.entityName,
            detail: x.detail ?? '',
          })),
        ];
        if (format === 'table') {
          const c = d.counts;
          process.stdout.write(
            `${describe(A.v)} → ${describe(B.v)}\n` +
              `addresses: +${c.addressesAdded} -${c.addressesRemoved} ~${c.addressesChanged}; ` +
              (d.entitiesCompared
                ? `entities: +${c.entitiesAdded} -${c.entitiesRemoved} ~${c.entitiesChanged}\n\n`
                : 'entities: not compared (one version names no entities)\n\n'),
          );
        }
        process.stdout.write(render(rows, format) + '\n');
      } finally {
        await store?.close();
      }
    });
}
