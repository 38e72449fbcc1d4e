/** Build the screening index from the store's current list versions. */
import { openSanctionsStore, type SanctionsStore, type SanctionsVersion } from '../store/sanctions.js';
import { ScreeningIndex, setDefaultScreeningIndex } from './screen.js';

export async function buildScreeningIndex(
  store: SanctionsStore,
  versions?: SanctionsVersion[],
): Promise<ScreeningIndex> {
  const index = new ScreeningIndex();
  for (const v of versions ?? (await store.currentVersions())) {
    index.addVersion(
      { versionId: v.id, list: v.list, published: v.published, checksum: v.checksum },
      await store.entities(v.id),
      await store.addresses(v.id),
    );
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
