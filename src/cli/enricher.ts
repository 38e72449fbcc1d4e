import type { FlowEnricher } from '../flow/enrichment.js';
import { loadGeoDatabase, type GeoDatabase } from '../geo/database.js';
import { GeoEnricher } from '../geo/enricher.js';
import { loadWatchTable } from '../geo/watchlist.js';

let geoOnce: GeoDatabase | undefined;

/** The geo database, loaded once per process (from the binary cache after the first build). */
export function sharedGeoDatabase(): GeoDatabase {
  geoOnce ??= loadGeoDatabase({
    onBuild: () =>
      process.stderr.write(
        'coinradar: building the geo lookup tables from @ip-location-db (first run only)...\n',
      ),
  });
  return geoOnce;
}

const enrichers = new Map<string, FlowEnricher>();

/**
 * The enricher the CLI uses: geo data + the default watchlists (kp) + an optional user file.
 * --no-geo skips the country/AS data (and its load) but still marks watchlisted addresses.
 */
export async function loadEnricher(o: { geo: boolean; watchlist?: string }): Promise<FlowEnricher> {
  const key = `${o.geo}|${o.watchlist ?? ''}`;
  let e = enrichers.get(key);
  if (!e) {
    e = new GeoEnricher(
      o.geo ? sharedGeoDatabase() : undefined,
      loadWatchTable(o.watchlist ? [o.watchlist] : []),
    );
    enrichers.set(key, e);
  }
  return e;
}
