/**
 * Differences between two list versions. Addresses are compared by (coin, normalised key);
 * an address present in both but attributed to a different entity or validity is 'changed'.
 * Entities are compared by id (name, type, programs) — only when both versions name entities
 * (the per-asset JSON lists name none, so against them only addresses are compared).
 */
import type { ListedAddress, SanctionedEntity } from './model.js';

export interface AddressDiffRow {
  change: 'added' | 'removed' | 'changed';
  coin: string;
  address: string;
  entityId: string | null;
  entityName: string;
  /** For 'changed': what differs, e.g. "entity 123 → 456". */
  detail?: string;
}

export interface EntityDiffRow {
  change: 'added' | 'removed' | 'changed';
  id: string;
  name: string;
  detail?: string;
}

export interface ListDiff {
  addresses: AddressDiffRow[];
  entities: EntityDiffRow[];
  /** False when one side names no entities. */
  entitiesCompared: boolean;
  counts: {
    addressesAdded: number;
    addressesRemoved: number;
    addressesChanged: number;
    entitiesAdded: number;
    entitiesRemoved: number;
    entitiesChanged: number;
  };
}

interface Side {
  entities: SanctionedEntity[];
  addresses: ListedAddress[];
}

const akey = (a: ListedAddress) => `${a.coin}\u0000${a.key}`;

export function diffLists(a: Side, b: Side): ListDiff {
  const nameA = new Map(a.entities.map((e) => [e.id, e]));
  const nameB = new Map(b.entities.map((e) => [e.id, e]));
  const mapA = new Map(a.addresses.map((x) => [akey(x), x]));
  const mapB = new Map(b.addresses.map((x) => [akey(x), x]));
  const entitiesCompared = a.entities.length > 0 && b.entities.length > 0;
  const addresses: AddressDiffRow[] = [];
  const row = (
    change: AddressDiffRow['change'],
    x: ListedAddress,
    names: Map<string, SanctionedEntity>,
    detail?: string,
  ): AddressDiffRow => ({
    change,
    coin: x.coin,
    address: x.address,
    entityId: x.entityId,
    entityName: (x.entityId && names.get(x.entityId)?.name) || '',
    ...(detail ? { detail } : {}),
  });
  for (const [k, x] of mapB) {
    const old = mapA.get(k);
    if (!old) addresses.push(row('added', x, nameB));
    else {
      const d: string[] = [];
      if (entitiesCompared && old.entityId !== x.entityId)
        d.push(`entity ${old.entityId ?? '-'} → ${x.entityId ?? '-'}`);
      if (old.valid !== x.valid) d.push(`valid ${old.valid} → ${x.valid}`);
      if (d.length) addresses.push(row('changed', x, nameB, d.join('; ')));
    }
  }
  for (const [k, x] of mapA) if (!mapB.has(k)) addresses.push(row('removed', x, nameA));

  const entities: EntityDiffRow[] = [];
  if (entitiesCompared) {
    for (const [id, e] of nameB) {
      const old = nameA.get(id);
      if (!old) entities.push({ change: 'added', id, name: e.name });
      else {
        const d: string[] = [];
        if (old.name !== e.name) d.push(`name ${old.name} → ${e.name}`);
        if (old.type !== e.type) d.push(`type ${old.type} → ${e.type}`);
        const pa = [...old.programs].sort().join(' ');
        const pb = [...e.programs].sort().join(' ');
        if (pa !== pb) d.push(`programs ${pa || '-'} → ${pb || '-'}`);
        if (d.length) entities.push({ change: 'changed', id, name: e.name, detail: d.join('; ') });
      }
    }
    for (const [id, e] of nameA) if (!nameB.has(id)) entities.push({ change: 'removed', id, name: e.name });
  }
  const count = <T extends { change: string }>(rows: T[], c: string) =>
    rows.filter((r) => r.change === c).length;
  return {
    addresses,
    entities,
    entitiesCompared,
    counts: {
      addressesAdded: count(addresses, 'added'),
      addressesRemoved: count(addresses, 'removed'),
      addressesChanged: count(addresses, 'changed'),
      entitiesAdded: count(entities, 'added'),
      entitiesRemoved: count(entities, 'removed'),
      entitiesChanged: count(entities, 'changed'),
    },
  };
}
