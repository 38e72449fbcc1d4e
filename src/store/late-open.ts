/**
 * A ClickHouse store `serve` could not reach when it started (refused, or no answer within
 * --store-timeout). The server starts anyway: the screening API needs no flow store, and the
 * network routes read through a reader that, until the store opens, fails each read with why it
 * could not be opened (the API's 503 `store_unavailable`, retry-after 5 s) and starts a try to open
 * it. A collector beside it (`serve --collect --spool`) opens it through the same tries
 * (netflow/late-store.ts), so there is one store whichever opens it first.
 */
import type { StoredDetection } from './detections.js';
import type { HostProfile, HostProfileQuery, SeriesData, SeriesQuery, SeriesScope } from './queries.js';
import type {
  Endpoint,
  HostConnection,
  HostSession,
  HostSessionQuery,
  NetworkReader,
  PayloadSample,
  TopHost,
} from './reader.js';
import { openNetworkReader } from './reader.js';
import { clickHouseAddressRange } from './clickhouse/reader.js';
import type { FlowStore, KeyedSummaryQuery, StoredPayload, SummaryKey, SummaryRow } from './store.js';

export class LateOpen {
  private store: FlowStore | null = null;
  private network: NetworkReader | null = null;
  private trying: Promise<FlowStore> | null = null;
  /** Tries to open it, each to its end (the open is bounded by --store-timeout). */
  tries = 0;

  /** `cause`: why it could not be opened at start; `open`: one try (bounded by its caller). */
  constructor(
    private cause: unknown,
    private readonly open: () => Promise<FlowStore>,
  ) {}

  /** The store once a try has opened it; null before. */
  opened(): FlowStore | null {
    return this.store;
  }

  /** Why it is not open (the last try's failure). */
  why(): unknown {
    return this.cause;
  }

  /** A try to open it, or the one running: the store, or the failure (kept as `why`). */
  try(): Promise<FlowStore> {
    if (this.store) return Promise.resolve(this.store);
    this.trying ??= (async () => {
      try {
        const s = await this.open();
        this.network = await openNetworkReader(s);
        this.store = s;
        return s;
      } catch (e) {
        this.cause = e;
        throw e;
      } finally {
        this.tries++;
        this.trying = null;
      }
    })();
    return this.trying;
  }

  /** The network routes' reader (the engine's once open; before, every read fails with `why`). */
  reader(): NetworkReader {
    return new LateNetworkReader(this);
  }

  /** @internal The engine's reader, or (starting a try) the reason there is none yet. */
  now(): NetworkReader {
    if (this.network) return this.network;
    this.try().catch(() => undefined);
    throw this.cause;
  }

  async close(): Promise<void> {
    await this.trying?.catch(() => undefined);
    await this.store?.close();
  }
}

/** Every read on the reader of the opened store; each fails with why while there is none. */
class LateNetworkReader implements NetworkReader {
  readonly engine = 'clickhouse' as const;
  readonly takesFilter = false;

  constructor(private readonly late: LateOpen) {}

  private async r(): Promise<NetworkReader> {
    return this.late.now();
  }

  async series(q: SeriesQuery): Promise<SeriesData> {
    return (await this.r()).series(q);
  }
  async hostProfiles(q: HostProfileQuery): Promise<HostProfile[]> {
    return (await this.r()).hostProfiles(q);
  }
  async topHosts(
    scope: SeriesScope,
    ports: number[],
    addresses: string[],
    limit?: number,
  ): Promise<TopHost[]> {
    return (await this.r()).topHosts(scope, ports, addresses, limit);
  }
  async endpoints(scope: SeriesScope, addresses: string[]): Promise<Endpoint[]> {
    return (await this.r()).endpoints(scope, addresses);
  }
  async hostConnections(host: string, addresses: string[]): Promise<HostConnection[]> {
    return (await this.r()).hostConnections(host, addresses);
  }
  async stratumPayloads(scope: SeriesScope, limit?: number): Promise<PayloadSample[]> {
    return (await this.r()).stratumPayloads(scope, limit);
  }
  async summarize(q: KeyedSummaryQuery): Promise<Map<SummaryKey, SummaryRow[]>> {
    return (await this.r()).summarize(q);
  }
  async labels(): Promise<string[]> {
    return (await this.r()).labels();
  }
  async hasDetections(): Promise<boolean> {
    return (await this.r()).hasDetections();
  }
  async hostDetections(ip: string, limit: number): Promise<StoredDetection[]> {
    return (await this.r()).hostDetections(ip, limit);
  }
  async hostSessions(ip: string, q: HostSessionQuery): Promise<HostSession[]> {
    return (await this.r()).hostSessions(ip, q);
  }
  async artifactHosts(value: string, limit: number): Promise<{ kind: string; host: string }[]> {
    return (await this.r()).artifactHosts(value, limit);
  }
  async payloads(flowIds: number[]): Promise<Map<number, StoredPayload>> {
    return (await this.r()).payloads(flowIds);
  }
  addressRange(lo: bigint, hi: bigint): string {
    return clickHouseAddressRange(lo, hi);
  }
}
