/** Build the screening index from the store's current list versions. */
import { openSanctionsStore, type SanctionsStore, type SanctionsVersion } from '../store/sanctions.js';
import { ScreeningIndex, setDefaultScreeningIndex, type ListVersionRef } from './screen.js';

export async function buildScreeningIndex(
  store: SanctionsStore,
  versions?: SanctionsVersion[],
): Promise<ScreeningIndex> {
  const index = new ScreeningIndex();
  const all = await store.versions();
  for (const v of versions ?? (await store.currentVersions())) {
    const entities = await store.entities(v.id);
    let earlier;
    if (v.entities === 0) {
      // A list that names no entities (the per-asset JSON arrays) borrows names from the newest
      // older version of the same list that has them; the match says which version that was.
      const named = all
        .filter((x) => x.list === v.list && x.id < v.id && x.entities > 0)
        .sort((a, b) => b.id - a.id)[0];
      if (named) {
        earlier = {
          versionId: named.id,
          entities: await store.entities(named.id),
          addresses: await store.addresses(named.id),
        };
      }
    }
    const ref: ListVersionRef = {
      versionId: v.id,
      list: v.list,
      published: v.published,
      checksum: v.checksum,
    };
    if (v.partial) {
      ref.partial = true;
      ref.skippedRows = v.skipped.length;
    }
    index.addVersion(ref, entities, await store.addresses(v.id), earlier);
  }
  return index;
}

/** Open the DuckDB file, index its current versions, close it, and install the index as the default. */
export async function loadScreeningIndex(dbPath: string): Promise<ScreeningIndex> {
  const store = await openSanctionsStore(dbPath);
  try {
    const index = await buildScreeningIndex(store);
    setDefaultScreeningIndex(index);
    return index;
  } finally {
    await store.close();
  }
}
