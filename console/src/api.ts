/**
 * The console's calls to the server it was loaded from. The session cookie (HttpOnly: no script
 * reads it) goes along on every call; the browser adds Origin and Sec-Fetch-Site, which the
 * server checks on calls that change state. Errors come back in the API's one shape.
 */
// The server's own types for what it sends (type-only: nothing of the server is bundled).
import type { SurgeChange } from '../../src/analysis/surge';
import type { HostSession } from '../../src/server/network';
import type { HostProfile } from '../../src/store/duckdb/hosts';
import type { SummaryRow } from '../../src/store/store';
export type { HostProfile, HostSession, SummaryRow, SurgeChange };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Told when a call finds the session gone (401): the app shows the sign-in page. */
let onSignedOut: () => void = () => undefined;
export function whenSignedOut(f: () => void): void {
  onSignedOut = f;
}

export async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const r = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await r.json().catch(() => null)) as
    (T & { error?: undefined }) | { error: { code: string; message: string } } | null;
  if (!r.ok) {
    const e = json && 'error' in json && json.error ? json.error : { code: 'http', message: r.statusText };
    if (r.status === 401 && !url.endsWith('/v1/session')) onSignedOut();
    throw new ApiError(r.status, e.code, e.message);
  }
  return json as T;
}

/** Query text from repeated parameters (scope=a&scope=b), skipping empty values. */
export function query(params: Record<string, string | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const x of Array.isArray(v) ? v : [v]) if (x) q.append(k, x);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Scope text as typed ("country:KP asn:131279") → the API's items. */
export const scopeItems = (text: string): string[] => text.split(/\s+/).filter(Boolean);

export interface Series {
  label: string;
  evidence: string;
  total: number;
  points: [number, number, number][];
  changes: SurgeChange[];
}

export interface SeriesAnswer {
  scope: string;
  bucket: string;
  bucketMs: number;
  fromMs: number;
  toMs: number;
  series: Series[];
}

export interface Excerpt {
  text: string;
  bytes: number;
}

export interface HostDetection {
  flow: number;
  first: string;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  label: string;
  coin: string;
  confidence: string;
  evidence: { rule: string; detail: string; [k: string]: unknown };
  artifacts: { kind: string; value: string }[];
  listVersion: string;
  source: string;
  payload?: { fwd: Excerpt | null; rev: Excerpt | null };
}

export interface HostPage {
  host: string;
  profile: HostProfile | null;
  activity: { bucketMs: number; points: [number, number, number][] };
  sessions: HostSession[];
  detections: HostDetection[];
  artifacts: { pools: string[]; wallets: string[]; workers: string[]; agents: string[] };
}

export interface ScreenMatch {
  kind: string;
  coin: string;
  listedAddress: string;
  entity: { id: string; name: string; type: string; programs: string[] } | null;
  list: string;
  versionId: number;
  published: string | null;
  hops?: number;
  via?: string;
}

export interface ScreenAnswer {
  results: { address: string; matched: boolean; matches: ScreenMatch[] }[];
  matched: number;
  lists: { list: string; versionId: number; published: string | null }[];
}

export interface SearchResult {
  kind: string;
  value: string;
  label: string;
  link: string | null;
}

export const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** GET /v1/collector (serve --collect): the live collector's health. */
export interface CollectorHealth {
  collecting: boolean;
  status: 'ok' | 'degraded' | 'failed' | 'starting';
  error?: string;
  source: string;
  flowsCommitted: number;
  counts: Record<string, number>;
}
