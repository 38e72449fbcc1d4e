/**
 * The chain side of sanctions screening: for a screened address, the listed addresses in its
 * cluster (common-input ownership) and the listed addresses its received funds came from within k
 * hops (haircut taint). Implements the screening module's ChainExposureProvider.
 */
import type { ChainExposure, ChainExposureProvider } from '../sanctions/screen.js';
import type { ChainStore } from '../store/chain.js';
import { exposure } from './exposure.js';
import { TAG_SANCTIONED, TagSet } from './tags.js';

/** Tags that ask the sanctions index instead of holding a copy of the list. */
class ListedTags extends TagSet {
  constructor(private readonly isListed: (address: string) => boolean) {
    super();
  }

  override tagsOf(address: string): string[] {
    return this.isListed(address) ? [TAG_SANCTIONED] : [];
  }
}

export class ChainSanctionsExposure implements ChainExposureProvider {
  constructor(
    private readonly store: ChainStore,
    /** How far back received funds are followed for indirect matches. */
    private readonly hops = 3,
  ) {}

  async exposure(address: string, isListed: (address: string) => boolean): Promise<ChainExposure[]> {
    const id = await this.store.addressIdOf(address);
    if (id === null) return [];
    const out: ChainExposure[] = [];
    const cluster = await this.store.clusterOf(id);
    if (cluster !== null) {
      const members = await this.store.clusterMembers(cluster);
      for (const [, text] of await this.store.addressTexts(members.filter((m) => m !== id))) {
        if (isListed(text)) out.push({ kind: 'cluster', listedAddress: text, hops: 0 });
      }
    }
    const r = await exposure(
      this.store,
      { addressIds: [id], label: address, level: 'address' },
      new ListedTags(isListed),
      { hops: this.hops, policy: 'haircut' },
    );
    for (const row of r.exposure) {
      if (row.tag !== TAG_SANCTIONED) continue;
      const via = `${(row.share * 100).toFixed(1)} % of ${r.received} sat received within ${r.hops} hops (haircut)`;
      for (const src of row.sources)
        out.push({ kind: 'indirect', listedAddress: src, hops: row.minHops, via });
    }
    return out;
  }
}
