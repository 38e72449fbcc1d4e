/**
 * Where imported indicators take effect: infrastructure entries join detection's lists (each
 * entry's list is `import:<source>` and its version `import:<source>@<version>`, shown as the
 * evidence of every detection they cause), and addresses become a sanctions-list version
 * `indicators:<source>` that `screen` reads like any other list.
 */
import { InfrastructureList } from '../detect/infrastructure.js';
import { LABELS, type Label } from '../detect/types.js';
import { Diagnostics } from '../flow/diagnostics.js';
import { listAddress } from '../sanctions/listed.js';
import type { ParsedList } from '../sanctions/model.js';
import type { DuckDbDatabase } from '../store/duckdb/database.js';
import { DuckDbIndicatorStore } from '../store/duckdb/indicators.js';
import type { ParsedIndicators } from './model.js';

/** Adds the latest imported set of every source to `list`; returns how many entries. */
export async function addImportedInfrastructure(
  list: InfrastructureList,
  db: DuckDbDatabase,
): Promise<number> {
  if (!(await DuckDbIndicatorStore.present(db))) return 0;
  const store = await DuckDbIndicatorStore.attach(db);
  let n = 0;
  for (const e of await store.currentInfrastructure()) {
    const version = `import:${e.source}@${e.version}`;
    list.addVersion(version);
    list.add({
      value: e.value,
      port: e.port,
      label: (LABELS as readonly string[]).includes(e.label) ? (e.label as Label) : 'pool-endpoint',
      coin: e.coin,
      name: e.name,
      list: `import:${e.source}`,
      listVersion: version,
    });
    n++;
  }
  return n;
}

/** The addresses of an import as a list version for screening. */
export function addressesAsList(p: ParsedIndicators): ParsedList {
  const diag = new Diagnostics();
  const published = /^\d{4}-\d{2}-\d{2}/.test(p.version) ? p.version.slice(0, 10) : null;
  return {
    list: `indicators:${p.source}`,
    format: 'indicators',
    files: [p.file],
    published,
    checksum: p.checksum,
    entities: [
      {
        id: p.source,
        name: p.source,
        type: 'entity',
        programs: [`indicators ${p.format} ${p.version}`],
        aliases: [],
        addresses: [],
      },
    ],
    addresses: p.addresses.map((a, i) =>
      listAddress(diag, a.coin, a.address, p.source, { source: p.file, line: i + 1, who: a.name }),
    ),
    skipped: [],
    diagnostics: diag,
  };
}
