import type { FlowEnricher } from '../flow/enrichment.js';

/** The enricher the CLI uses: geo data + default watchlists unless --no-geo. */
export async function loadEnricher(_o: { geo: boolean; watchlist?: string }): Promise<FlowEnricher | undefined> {
  // geo/ supplies the real one (country, ASN, watchlists); until it is wired in, nothing is added.
  return undefined;
}
