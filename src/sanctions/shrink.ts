/**
 * A new version of a list that drops a large share of what the version screening uses now is
 * more likely a bad download or a wrong file than a real delisting: refused unless the user says
 * --allow-shrink. Real OFAC updates remove a handful of entries; the largest removal in the SDN
 * list's history (Iran, JCPOA Implementation Day, January 2016) took out about 400 of some
 * 6,000 entries, under 7 %. 10 % is above that and far below what a truncated or wrong file drops.
 */
import type { ListedAddress, ParsedList, SanctionedEntity } from './model.js';

/** The share of the current version's addresses (or entities) a new version may drop. */
export const SHRINK_LIMIT = 0.1;

export interface Shrinkage {
  againstVersion: number;
  addressesBefore: number;
  addressesDropped: number;
  /** Null when one of the two versions names no entities (the per-asset JSON lists). */
  entitiesBefore: number | null;
  entitiesDropped: number | null;
}

/** What `next` drops of `prev`: addresses by (coin, key), entities by id. */
export function shrinkage(
  againstVersion: number,
  prev: { entities: SanctionedEntity[]; addresses: ListedAddress[] },
  next: ParsedList,
): Shrinkage {
  const have = new Set(next.addresses.map((a) => `${a.coin} ${a.key}`));
  const before = new Set(prev.addresses.map((a) => `${a.coin} ${a.key}`));
  let addressesDropped = 0;
  for (const k of before) if (!have.has(k)) addressesDropped++;
  let entitiesBefore: number | null = null;
  let entitiesDropped: number | null = null;
  if (prev.entities.length > 0 && next.entities.length > 0) {
    const ids = new Set(next.entities.map((e) => e.id));
    const was = new Set(prev.entities.map((e) => e.id));
    entitiesBefore = was.size;
    entitiesDropped = 0;
    for (const id of was) if (!ids.has(id)) entitiesDropped++;
  }
  return { againstVersion, addressesBefore: before.size, addressesDropped, entitiesBefore, entitiesDropped };
}

const share = (dropped: number, before: number) => (before === 0 ? 0 : dropped / before);

/** Why the shrinkage is too much, or null when it is within SHRINK_LIMIT. */
export function shrinkProblem(s: Shrinkage, limit = SHRINK_LIMIT): string | null {
  const parts: string[] = [];
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const a = share(s.addressesDropped, s.addressesBefore);
  if (a > limit) parts.push(`${s.addressesDropped} of its ${s.addressesBefore} addresses (${pct(a)})`);
  if (s.entitiesBefore !== null && s.entitiesDropped !== null) {
    const e = share(s.entitiesDropped, s.entitiesBefore);
    if (e > limit) parts.push(`${s.entitiesDropped} of its ${s.entitiesBefore} entities (${pct(e)})`);
  }
  if (parts.length === 0) return null;
  return `this version drops ${parts.join(' and ')} of version ${s.againstVersion}, the one screening uses now; more than ${pct(limit)} is refused without --allow-shrink`;
}

/** Whether a new version published `published` would replace `current` as the one screening uses. */
export function wouldBeCurrent(published: string | null, current: { published: string | null }): boolean {
  if (current.published === null) return true;
  if (published === null) return false;
  return published >= current.published;
}
