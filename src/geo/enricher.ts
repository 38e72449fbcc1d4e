/**
 * FlowEnricher over the geo database and the watchlists: one segment search per address end
 * for country/ASN/organisation and one for the watchlists, straight off the batch's address
 * bytes.
 */
import type { EnrichedColumns, FlowEnricher } from '../flow/enrichment.js';
import type { FlowBatch } from '../flow/record.js';
import type { GeoDatabase } from './database.js';
import { findV4, findV6, readU32 } from './ranges.js';
import type { WatchTable } from './watchlist.js';

export class GeoEnricher implements FlowEnricher {
  /** orgStamp[org index] = the batch in which that organisation was last reported (saves a Map probe per row). */
  private readonly orgStamp: Uint32Array;
  private stamp = 0;

  constructor(
    /** Absent: country/ASN stay empty ('' / 0), only the watchlists apply. */
    readonly geo: GeoDatabase | undefined,
    readonly watch: WatchTable | undefined,
    /** Name each organisation in `asOrgs` once for the enricher's life, not once per batch (forOneWriter). */
    private readonly orgsOnce = false,
  ) {
    this.orgStamp = new Uint32Array(geo ? geo.orgCount : 0);
  }

  /** On a spread of addresses a batch reaches thousands of ASes: a collector named each of them
   * again in every batch, a map entry per AS per batch that its store then found it already had. */
  forOneWriter(): GeoEnricher {
    return new GeoEnricher(this.geo, this.watch, true);
  }

  forgetOrgs(): void {
    // A new stamp: no organisation was reported in it yet.
    this.stamp = (this.stamp + 1) >>> 0 || 1;
  }

  enrich(batch: FlowBatch): EnrichedColumns {
    const n = batch.length;
    const out: EnrichedColumns = {
      srcCountry: new Array<string>(n),
      dstCountry: new Array<string>(n),
      srcAsn: new Uint32Array(n),
      dstAsn: new Uint32Array(n),
      srcWatch: new Array<string>(n),
      dstWatch: new Array<string>(n),
      asOrgs: new Map(),
    };
    if (!this.orgsOnce || this.stamp === 0) this.stamp = (this.stamp + 1) >>> 0 || 1;
    this.side(batch, batch.src, out.srcCountry, out.srcAsn, out.srcWatch, out.asOrgs);
    this.side(batch, batch.dst, out.dstCountry, out.dstAsn, out.dstWatch, out.asOrgs);
    return out;
  }

  private side(
    batch: FlowBatch,
    addr: Uint8Array,
    country: string[],
    asnOut: Uint32Array,
    watchOut: string[],
    orgs: Map<number, string>,
  ): void {
    const n = batch.length;
    const ver = batch.ipVersion;
    const geo = this.geo;
    const watch = this.watch;
    const names = watch ? watch.names : [''];
    if (geo) {
      const codes = geo.codes;
      const v4 = geo.v4;
      const v6 = geo.v6;
      const stamps = this.orgStamp;
      const stamp = this.stamp;
      for (let i = 0; i < n; i++) {
        const o = i * 16;
        let t: typeof v4 | typeof v6 = v4;
        let seg: number;
        if (ver[i] !== 6) {
          seg = findV4(v4, readU32(addr, o));
        } else {
          const a = readU32(addr, o);
          const b = readU32(addr, o + 4);
          const c = readU32(addr, o + 8);
          if (a === 0 && b === 0 && c === 0xffff) {
            seg = findV4(v4, readU32(addr, o + 12));
          } else {
            seg = findV6(v6, a, b, c, readU32(addr, o + 12));
            t = v6;
          }
        }
        country[i] = codes[t.country[seg]];
        const asn = t.asn[seg];
        asnOut[i] = asn;
        const org = t.org[seg];
        if (asn !== 0 && stamps[org] !== stamp) {
          stamps[org] = stamp;
          orgs.set(asn, geo.orgName(org));
        }
      }
    } else {
      country.fill('');
    }
    if (watch) {
      for (let i = 0; i < n; i++) watchOut[i] = names[watch.listBytes(addr, i * 16, ver[i])];
    } else {
      watchOut.fill('');
    }
  }
}
