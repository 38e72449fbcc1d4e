/**
 * Loads a generated world straight into a flow store (no export/decode round trip), enriched with
 * what the scenario knows: its own address space is the studied country and AS, every outside
 * address gets the country/AS of the prefix it was drawn from. For demos, tests and benchmarks;
 * real ingest goes through `coinradar ingest` / `collect` and geo/.
 */
import { Diagnostics } from '../flow/diagnostics.js';
import { emptyEnrichment, type EnrichedColumns, type FlowEnricher } from '../flow/enrichment.js';
import type { FlowBatch } from '../flow/record.js';
import type { FlowStore } from '../store/store.js';
import { flowBatches } from './generate.js';
import { OUTSIDE, parseCidr, poolCatalogue, type World } from './world.js';

/** Country codes of the outside prefixes (the organisations' home countries). */
const OUTSIDE_COUNTRY: Record<number, string> = {
  4808: 'CN',
  23724: 'CN',
  4837: 'CN',
  4134: 'CN',
  45102: 'CN',
  132203: 'CN',
  15169: 'US',
  13335: 'US',
  20940: 'US',
  32934: 'US',
  8075: 'US',
  16509: 'US',
  14061: 'US',
  10439: 'US',
  211680: 'US',
  13238: 'RU',
  8402: 'RU',
  16276: 'FR',
  24940: 'DE',
  202425: 'NL',
};

export interface ScenarioEnrichOptions {
  country?: string;
  asn?: number;
  org?: string;
  watch?: string;
}

export class ScenarioEnricher implements FlowEnricher {
  private readonly inside: { base: number; size: number }[];
  private readonly outside: { base: number; size: number; asn: number; org: string; country: string }[] = [];
  private readonly pools = new Set<number>();

  constructor(
    world: World,
    private readonly o: ScenarioEnrichOptions = {},
  ) {
    this.inside = world.config.cidrs.map(parseCidr);
    for (const list of Object.values(OUTSIDE)) {
      for (const p of list)
        this.outside.push({
          ...parseCidr(p.cidr),
          asn: p.asn,
          org: p.org,
          country: OUTSIDE_COUNTRY[p.asn] ?? '',
        });
    }
    for (const p of poolCatalogue()) this.pools.add(p.ip);
  }

  enrich(b: FlowBatch): EnrichedColumns {
    const e = emptyEnrichment(b.length);
    const country = this.o.country ?? 'KP';
    const asn = this.o.asn ?? 131279;
    e.asOrgs.set(asn, this.o.org ?? 'Ryugyong-dong (Star JV)');
    for (let i = 0; i < b.length; i++) {
      for (const side of ['src', 'dst'] as const) {
        const a = b[side];
        const o = i * 16;
        const ip = ((a[o] << 24) | (a[o + 1] << 16) | (a[o + 2] << 8) | a[o + 3]) >>> 0;
        let c = '';
        let as = 0;
        let watch = '';
        if (this.inside.some((x) => ip >= x.base && ip < x.base + x.size)) {
          c = country;
          as = asn;
          watch = this.o.watch ?? 'studied-space';
        } else {
          const hit = this.outside.find((x) => ip >= x.base && ip < x.base + x.size);
          if (hit) {
            c = hit.country;
            as = hit.asn;
            e.asOrgs.set(hit.asn, hit.org);
          }
          if (this.pools.has(ip)) watch = 'mining-pools-2018';
        }
        if (side === 'src') {
          e.srcCountry[i] = c;
          e.srcAsn[i] = as;
          e.srcWatch[i] = watch;
        } else {
          e.dstCountry[i] = c;
          e.dstAsn[i] = as;
          e.dstWatch[i] = watch;
        }
      }
    }
    return e;
  }
}

/** Write the world's flows into `store` as one source; returns the number of flows. */
export async function loadWorldIntoStore(
  world: World,
  store: FlowStore,
  onBatch?: (flows: number) => void,
): Promise<number> {
  const name = `scenario:seed=${world.config.seed}`;
  const w = await store.beginSource({
    name,
    kind: 'scenario',
    fingerprint: `scenario:${JSON.stringify(world.config)}`,
  });
  const enricher = new ScenarioEnricher(world);
  let n = 0;
  try {
    for (const b of flowBatches(world, { source: name })) {
      await w.append(b, enricher.enrich(b));
      n += b.length;
      onBatch?.(n);
    }
    const d = new Diagnostics();
    d.add('flows', n);
    await w.commit(d);
  } catch (e) {
    await w.abort();
    throw e;
  }
  return n;
}
