/** Per-row enrichment of a FlowBatch (both ends), produced by geo/ and written by store/. */
export interface EnrichedColumns {
  /** ISO 3166 alpha-2 country code, '' when unknown. */
  srcCountry: string[];
  dstCountry: string[];
  /** Autonomous system number, 0 when unknown. */
  srcAsn: Uint32Array;
  dstAsn: Uint32Array;
  /** Name of the first watchlist the address falls in, '' when none. */
  srcWatch: string[];
  dstWatch: string[];
  /** AS organisation names for the ASNs in this batch. */
  asOrgs: Map<number, string>;
}

/** Turns a batch into its enrichment columns. */
export interface FlowEnricher {
  enrich(batch: import('./record.js').FlowBatch): EnrichedColumns;
  /**
   * The same enrichment for one long-running writer (a live collector) whose store keeps every
   * organisation it is given: `asOrgs` then names each AS only in the first batch that has it.
   */
  forOneWriter?(): FlowEnricher;
  /**
   * (The form for one writer.) Name every organisation again from the next batch on: the store
   * lost what it was given (a commit interval rolled back).
   */
  forgetOrgs?(): void;
}

/** Enrichment that knows nothing (every column empty) — for tests and `--no-geo`. */
export function emptyEnrichment(n: number): EnrichedColumns {
  return {
    srcCountry: new Array(n).fill(''),
    dstCountry: new Array(n).fill(''),
    srcAsn: new Uint32Array(n),
    dstAsn: new Uint32Array(n),
    srcWatch: new Array(n).fill(''),
    dstWatch: new Array(n).fill(''),
    asOrgs: new Map(),
  };
}
