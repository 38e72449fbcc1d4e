/**
 * Screening: an in-memory index of the current list versions (normalised key → matches), built
 * once at server or command start, so every lookup is one or two Map.get calls.
 *
 * Match kinds: 'exact' (the address itself is listed) is what this module answers. 'cluster'
 * (same common-input-ownership cluster as a listed address) and 'indirect' (funds within n hops)
 * need the chain index; the chain module supplies them by implementing `ChainExposureProvider`,
 * and `screenWithExposure` merges its answers with the exact ones.
 */
import { lookupKey } from './address.js';
import type { ListedAddress, SanctionedEntity } from './model.js';

export type MatchKind = 'exact' | 'cluster' | 'indirect';

export interface ListVersionRef {
  versionId: number;
  list: string;
  published: string | null;
  checksum: string;
  /**
   * Set (true) only for a version loaded with --allow-partial: rows of the list were left out, so
   * a "none" against it is weaker than against the whole list. `skippedRows` says how many.
   */
  partial?: true;
  skippedRows?: number;
}

export interface MatchedEntity {
  id: string;
  name: string;
  type: string;
  programs: string[];
}

export interface ScreenMatch {
  kind: MatchKind;
  coin: string;
  /** The address as the list writes it. */
  listedAddress: string;
  /** Whether the listed address passed its coin's validation (invalid ones still match exactly). */
  valid: boolean;
  entity: MatchedEntity | null;
  /**
   * Set when this version names no entities (the per-asset JSON lists) and the entity comes from
   * an older version of the same list that listed the same address.
   */
  entityFromVersion?: number;
  list: string;
  versionId: number;
  published: string | null;
  /** For cluster/indirect matches: hops from the screened address and the address it goes through. */
  hops?: number;
  via?: string;
}

export interface ScreenResult {
  address: string;
  matched: boolean;
  matches: ScreenMatch[];
}

/** What the chain module implements to add cluster and indirect matches. */
export interface ChainExposure {
  kind: 'cluster' | 'indirect';
  /** The listed address the screened one is linked to. */
  listedAddress: string;
  hops: number;
  via?: string;
}

export interface ChainExposureProvider {
  /**
   * Listed addresses linked to `address` on the chain. `isListed(address)` tells the provider
   * which addresses are on the current lists so it can stop a walk early.
   */
  exposure(address: string, isListed: (address: string) => boolean): Promise<ChainExposure[]>;
}

const NONE: readonly ScreenMatch[] = Object.freeze([]);

export class ScreeningIndex {
  private readonly byKey = new Map<string, ScreenMatch[]>();
  /**
   * Lengths of the keys stored in folded form (lower case, no prefix). An input that misses
   * exactly is folded and looked up again only if its length is one of these, so the common
   * miss (a base58 address) costs one Map.get and no new string.
   */
  private readonly foldedLengths = new Set<number>();
  readonly versions: ListVersionRef[] = [];
  private addressCount = 0;

  /**
   * Add one list version's addresses (entities give names and programs). `earlier` is an older
   * version of the same list that names entities, used for addresses this version leaves unnamed.
   */
  addVersion(
    version: ListVersionRef,
    entities: SanctionedEntity[],
    addresses: ListedAddress[],
    earlier?: { versionId: number; entities: SanctionedEntity[]; addresses: ListedAddress[] },
  ): void {
    this.versions.push(version);
    const freeze = (e: SanctionedEntity): MatchedEntity =>
      Object.freeze({ id: e.id, name: e.name, type: e.type, programs: e.programs });
    const byId = new Map<string, MatchedEntity>();
    for (const e of entities) byId.set(e.id, freeze(e));
    const earlierByKey = new Map<string, MatchedEntity>();
    if (earlier) {
      const ents = new Map(earlier.entities.map((e) => [e.id, freeze(e)]));
      for (const a of earlier.addresses) {
        const e = a.entityId ? ents.get(a.entityId) : undefined;
        if (e) earlierByKey.set(`${a.coin} ${a.key}`, e);
      }
    }
    for (const a of addresses) {
      const inherited = a.entityId ? undefined : earlierByKey.get(`${a.coin} ${a.key}`);
      const m: ScreenMatch = Object.freeze({
        kind: 'exact',
        coin: a.coin,
        listedAddress: a.address,
        valid: a.valid,
        entity: a.entityId
          ? (byId.get(a.entityId) ?? { id: a.entityId, name: '', type: '', programs: [] })
          : (inherited ?? null),
        ...(inherited ? { entityFromVersion: earlier!.versionId } : {}),
        list: version.list,
        versionId: version.versionId,
        published: version.published,
      } as ScreenMatch);
      this.addressCount++;
      const keys = new Set([a.key, a.address, ...(a.aliases ?? [])]);
      for (const k of keys) {
        if (k === lookupKey(k)) this.foldedLengths.add(k.length);
        const cur = this.byKey.get(k);
        if (!cur) this.byKey.set(k, [m]);
        else if (
          !cur.some(
            (x) => x.coin === m.coin && x.listedAddress === m.listedAddress && x.versionId === m.versionId,
          )
        )
          cur.push(m);
      }
    }
  }

  /** Listed addresses indexed (each counted once, aliases not counted). */
  get size(): number {
    return this.addressCount;
  }

  /** Exact matches for one address (empty array when not listed). */
  lookup(address: string): readonly ScreenMatch[] {
    let a = address;
    const n = a.length;
    if (n === 0) return NONE;
    if (a.charCodeAt(0) <= 32 || a.charCodeAt(n - 1) <= 32) a = a.trim();
    const exact = this.byKey.get(a);
    if (exact) return exact;
    const colon = a.indexOf(':');
    if (!this.foldedLengths.has(colon > 0 ? a.length - colon - 1 : a.length)) return NONE;
    return this.byKey.get(lookupKey(a)) ?? NONE;
  }

  isListed = (address: string): boolean => this.lookup(address).length > 0;

  screen(address: string): ScreenResult {
    const m = this.lookup(address);
    return { address, matched: m.length > 0, matches: m as ScreenMatch[] };
  }

  screenAddresses(addresses: string[]): ScreenResult[] {
    const out = new Array<ScreenResult>(addresses.length);
    for (let i = 0; i < addresses.length; i++) out[i] = this.screen(addresses[i]);
    return out;
  }
}

/** Exact matches plus what a chain index adds (cluster, indirect). */
export async function screenWithExposure(
  index: ScreeningIndex,
  addresses: string[],
  chain?: ChainExposureProvider,
): Promise<ScreenResult[]> {
  const results = index.screenAddresses(addresses);
  if (!chain) return results;
  for (const r of results) {
    const extra: ScreenMatch[] = [];
    for (const x of await chain.exposure(r.address, index.isListed)) {
      for (const m of index.lookup(x.listedAddress))
        extra.push({ ...m, kind: x.kind, hops: x.hops, via: x.via });
    }
    if (extra.length) {
      r.matches = [...r.matches, ...extra];
      r.matched = true;
    }
  }
  return results;
}

let defaultIndex: ScreeningIndex | null = null;

/** Install the index `screenAddresses` uses (the CLI and server do this after loading lists). */
export function setDefaultScreeningIndex(index: ScreeningIndex | null): void {
  defaultIndex = index;
}

export function getDefaultScreeningIndex(): ScreeningIndex | null {
  return defaultIndex;
}

/**
 * Screen addresses against the installed index — the entry point for network artifacts (wallets
 * seen in Stratum logins). Throws when no index is installed: an unscreened wallet must not look clean.
 */
export function screenAddresses(
  addresses: string[],
  index: ScreeningIndex | null = defaultIndex,
): ScreenResult[] {
  if (!index)
    throw new Error(
      'no sanctions list loaded: load one with `coinradar sanctions load` and call loadScreeningIndex first',
    );
  return index.screenAddresses(addresses);
}
