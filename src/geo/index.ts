// The geo room's public surface: database, watchlists and the flow enricher.
export { GeoDatabase, loadGeoDatabase, type GeoAnswer, type LoadGeoOptions } from './database.js';
export {
  WatchTable,
  loadWatchTable,
  parseWatchlist,
  parseCidr,
  DEFAULT_WATCHLISTS,
  type WatchEntry,
} from './watchlist.js';
export { GeoEnricher } from './enricher.js';
