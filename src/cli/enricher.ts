import type { FlowEnricher } from '../flow/enrichment.js';
import { loadGeoDatabase, type GeoDatabase } from '../geo/database.js';
import { GeoEnricher } from '../geo/enricher.js';
import { loadImportedGeo, readGeoManifest } from '../geo/imported.js';
import { loadWatchTable } from '../geo/watchlist.js';

let packagedOnce: GeoDatabase | undefined;
const importedByDb = new Map<string, GeoDatabase | undefined>();

/** Which import of `db` is current ('' = none): a process that imports or resets sees the change. */
function importKey(db: string | undefined): string {
  if (db === undefined) return '';
  const m = readGeoManifest(db);
  return m ? `${db}\u0000${m.importedAt}` : '';
}

/**
 * The geo database, loaded once per process: the tables imported for the store `db` (`coinradar
 * geo import`) when it has some, else the packaged data (from the binary cache after the first build).
 */
export function sharedGeoDatabase(db?: string): GeoDatabase {
  const key = importKey(db);
  if (key) {
    let imported = importedByDb.get(key);
    if (!imported) {
      imported = loadImportedGeo(db!);
      importedByDb.set(key, imported);
    }
    if (imported) return imported;
  }
  packagedOnce ??= loadGeoDatabase({
    onBuild: () =>
      process.stderr.write(
        'coinradar: building the geo lookup tables from @ip-location-db (first run only)...\n',
      ),
  });
  return packagedOnce;
}

const enrichers = new Map<string, FlowEnricher>();

/**
 * The enricher the CLI uses: geo data (the store's imported tables, else the packaged ones) + the
 * default watchlists (kp) + an optional user file. --no-geo skips the country/AS data (and its
 * load) but still marks watchlisted addresses.
 */
export async function loadEnricher(o: {
  geo: boolean;
  watchlist?: string;
  db?: string;
}): Promise<FlowEnricher> {
  const key = `${o.geo}|${o.watchlist ?? ''}|${o.geo ? importKey(o.db) : ''}`;
  let e = enrichers.get(key);
  if (!e) {
    e = new GeoEnricher(
      o.geo ? sharedGeoDatabase(o.db) : undefined,
      loadWatchTable(o.watchlist ? [o.watchlist] : []),
    );
    enrichers.set(key, e);
  }
  return e;
}
