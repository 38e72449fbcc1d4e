/**
 * Address tags for exposure and tracing: 'sanctioned', 'mining pool', 'exchange' or any label a
 * user file gives. Tag files are CSV lines `address,tag[,label]` ('#' comments, optional header).
 * Other modules (the sanctions list) feed tags through `AddressTagSource`.
 */
import { readFileSync } from 'node:fs';

export const TAG_SANCTIONED = 'sanctioned';
export const TAG_MINING_POOL = 'mining pool';
export const TAG_EXCHANGE = 'exchange';

/** A provider of tagged addresses, e.g. the OFAC SDN digital-currency addresses. */
export interface AddressTagSource {
  readonly name: string;
  /** Every address the source knows, with its tag and a label (entity name, pool name...). */
  addresses(): Iterable<{ address: string; tag: string; label?: string }>;
}

export class TagSet {
  readonly byAddress = new Map<string, { tag: string; label: string; source: string }[]>();

  add(address: string, tag: string, label = '', source = ''): void {
    const list = this.byAddress.get(address);
    const entry = { tag, label, source };
    if (!list) this.byAddress.set(address, [entry]);
    else if (!list.some((e) => e.tag === tag && e.label === label)) list.push(entry);
  }

  addSource(src: AddressTagSource): void {
    for (const a of src.addresses()) this.add(a.address, a.tag, a.label ?? '', src.name);
  }

  tagsOf(address: string): string[] {
    return [...new Set((this.byAddress.get(address) ?? []).map((e) => e.tag))];
  }

  labelsOf(address: string): string[] {
    return (this.byAddress.get(address) ?? []).map((e) => (e.label ? `${e.tag}: ${e.label}` : e.tag));
  }
}

/** A tag file as a tag source; malformed lines are errors with their line number. */
export function tagFile(path: string): AddressTagSource {
  const text = readFileSync(path, 'utf8');
  const rows: { address: string; tag: string; label?: string }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const s = line.trim();
    if (!s || s.startsWith('#')) return;
    const [address, tag, ...rest] = s.split(',').map((x) => x.trim());
    if (i === 0 && address.toLowerCase() === 'address') return;
    if (!address || !tag)
      throw new Error(`${path}: line ${i + 1}: expected address,tag[,label], found ${JSON.stringify(s)}`);
    rows.push({ address, tag, label: rest.join(',') || undefined });
  });
  return { name: path, addresses: () => rows };
}
