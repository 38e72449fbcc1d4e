/**
 * Pre-serialised screening responses for the exact-match hot path. The index hands out the same
 * match array for every lookup of a listed address, so its JSON is made once and reused; a miss
 * costs one JSON.stringify of the address. The output is the JSON the routes' response schemas
 * (openapi.ts) describe, key for key (a test compares both).
 */
import type { ScreenMatch, ScreenResult } from '../sanctions/screen.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

const matchesJson = new WeakMap<readonly ScreenMatch[], string>();

export function screenResultJson(address: string, matches: readonly ScreenMatch[]): string {
  if (matches.length === 0) return `{"address":${JSON.stringify(address)},"matched":false,"matches":[]}`;
  let m = matchesJson.get(matches);
  if (m === undefined) {
    m = JSON.stringify(matches);
    matchesJson.set(matches, m);
  }
  return `{"address":${JSON.stringify(address)},"matched":true,"matches":${m}}`;
}

/** `{"results":[…],"matched":n,"lists":…}` for a batch; `listsJson` is the serialised version list. */
export function screenBatchJson(
  results: readonly ScreenResult[],
  matched: number,
  listsJson: string,
): string {
  const parts = new Array<string>(results.length);
  for (let i = 0; i < results.length; i++)
    parts[i] = screenResultJson(results[i].address, results[i].matches);
  return `{"results":[${parts.join(',')}],"matched":${matched},"lists":${listsJson}}`;
}
