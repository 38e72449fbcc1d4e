import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { csvRecords } from '../sanctions/csv.js';
import { loadScreeningIndex } from '../sanctions/index-loader.js';
import { screenWithExposure, type ListVersionRef, type ScreenResult } from '../sanctions/screen.js';
import { defaultDbPath } from '../store/store.js';
import { addChainOptions, openChainIndex, parseChainHops } from './chain-screening.js';
import { parseFormat, render } from './output.js';

/** Addresses from a file: one per line, or a CSV whose header has an `address` column (else the first column). */
export function readAddressFile(path: string): string[] {
  const recs = [...csvRecords(readFileSync(path, 'utf8'))];
  // A bad quote would otherwise drop the addresses after it from the screening, unseen.
  const bad = recs.find((r) => r.fault);
  if (bad) throw new Error(`${path}:line ${bad.line}: ${bad.fault}; nothing was screened`);
  if (recs.length === 0) return [];
  const header = recs[0].fields.map((f) => f.trim().toLowerCase());
  const col = header.indexOf('address');
  const rows = col >= 0 ? recs.slice(1) : recs;
  const k = col >= 0 ? col : 0;
  return rows.map((r) => (r.fields[k] ?? '').trim()).filter((a) => a !== '' && !a.startsWith('#'));
}

/** "watch v2 (2024-09)", and "PARTIAL" with the count when rows of that version were left out. */
function versionLabel(v: ListVersionRef): string {
  const partial = v.partial ? `, PARTIAL: ${v.skippedRows} row(s) of the list not loaded` : '';
  return `${v.list} v${v.versionId} (${v.published ?? 'unknown'}${partial})`;
}

export function screenRows(results: ScreenResult[]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const r of results) {
    if (!r.matched) {
      rows.push({
        address: r.address,
        match: 'none',
        coin: '',
        entity_id: '',
        entity: '',
        type: '',
        programs: '',
        list: '',
        version: '',
        published: '',
        entity_from: '',
        hops: '',
        via: '',
      });
      continue;
    }
    for (const m of r.matches) {
      rows.push({
        address: r.address,
        match: m.kind,
        coin: m.coin,
        entity_id: m.entity?.id ?? '',
        entity: m.entity?.name ?? '(not named by this list)',
        type: m.entity?.type ?? '',
        programs: m.entity?.programs.join(' ') ?? '',
        list: m.list,
        version: m.versionId,
        published: m.published ?? '',
        entity_from: m.entityFromVersion ?? '',
        hops: m.hops ?? '',
        via: m.via ?? '',
      });
    }
  }
  return rows;
}

export function register(program: Command): void {
  const cmd = program
    .command('screen')
    .description(
      'screen addresses against the current sanctions list versions: exact matches, and with a chain index in the same database, cluster and indirect (funds within --chain-hops) matches',
    )
    .argument('[address...]')
    .option('--file <path>', 'addresses from a file (one per line, or a CSV with an address column)')
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .option('--matches-only', 'print only addresses that match')
    .option(
      '--exit-zero',
      'exit 0 when an address is listed too (default: exit 1, so a script can gate on it)',
    );
  addChainOptions(cmd).action(
    async (
      addresses: string[],
      o: {
        file?: string;
        db: string;
        format: string;
        matchesOnly?: boolean;
        exitZero?: boolean;
        chainHops: string;
        chain: boolean;
      },
    ) => {
      const format = parseFormat(o.format);
      const hops = parseChainHops(o.chainHops);
      const input = [...addresses, ...(o.file ? readAddressFile(o.file) : [])];
      if (input.length === 0) throw new Error('give addresses or --file');
      const index = await loadScreeningIndex(o.db);
      if (index.versions.length === 0)
        throw new Error(`no sanctions list in ${o.db}: load one with \`coinradar sanctions load\``);
      let results = index.screenAddresses(input);
      let chainNote = 'exact matches only (no chain index)';
      if (o.chain) {
        const chain = await openChainIndex(o.db, hops);
        if (chain) {
          try {
            results = await screenWithExposure(index, input, chain.provider);
            chainNote = chain.note;
          } finally {
            await chain.close();
          }
        }
      } else chainNote = 'exact matches only (--no-chain)';
      if (o.matchesOnly) results = results.filter((r) => r.matched);
      if (format === 'json') process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      else if (format === 'jsonl') for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(render(screenRows(results), format) + '\n');
      const hits = results.filter((r) => r.matched).length;
      process.stderr.write(
        `${input.length} screened, ${hits} matched, against ${index.versions.map(versionLabel).join(', ')}; ${chainNote}\n`,
      );
      // Exit 1: found (an address is listed), as grep does; 2 is left for errors (main.ts).
      if (hits > 0 && !o.exitZero) process.exitCode = 1;
    },
  );
}
