/**
 * A bound on each request a store sends to its server, for the code that runs inside
 * `withStoreTimeout` (and what it starts): the live collector's writes, commits and recovery.
 * Without it a ClickHouse server cut off by the network (packets dropped, not refused) holds each
 * request for the client's own timeout, ten minutes — the collector would wait that long before it
 * starts holding what arrives. Reads for people (serve's API, reports) run outside and keep the
 * long timeout they need. DuckDB sends no requests and ignores it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const bound = new AsyncLocalStorage<number>();

/**
 * Each request the collector's store sends to a server (ClickHouse) is given up on after this long,
 * and counts as the server out of reach: a server the network cut off, whose packets are dropped
 * rather than refused, would otherwise hold the collector for the client's ten minutes, its
 * receiver dropping what arrives. A healthy insert of a batch takes milliseconds. `serve` bounds
 * its opening of the store by it too.
 */
export const DEFAULT_STORE_TIMEOUT_MS = 10_000;

/** Run `fn` with every store request it makes aborted after `ms` (0 or undefined: unbounded). */
export function withStoreTimeout<T>(ms: number | undefined, fn: () => Promise<T>): Promise<T> {
  return bound.run(ms && ms > 0 ? ms : 0, fn);
}

/**
 * Run `fn` without the bound, inside withStoreTimeout: for statements that may rightly run long
 * on a large store (a count over the whole flow table before a delete), once a bounded request has
 * shown the server answers.
 */
export function unbounded<T>(fn: () => Promise<T>): Promise<T> {
  return bound.run(0, fn);
}

/** The bound on a request made now, in ms; undefined outside withStoreTimeout or inside unbounded. */
export function storeTimeoutMs(): number | undefined {
  return bound.getStore() || undefined;
}

/** The words a request that was not answered in time fails with (isUnreachable knows them). */
export function noAnswerMessage(ms: number, queryId: string): string {
  return `no answer in ${ms / 1000} s (--store-timeout; query_id ${queryId} may still run on the server)`;
}
