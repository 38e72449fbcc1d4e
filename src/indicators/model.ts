/** What an indicator file gives, whatever its format (STIX bundle, MISP event, CSV). */

export type IndicatorFormat = 'stix' | 'misp' | 'csv';

/** A pool endpoint, network or name for detection's infrastructure lists. */
export interface ImportedInfra {
  /** An IPv4/IPv6 address, a CIDR or a domain name. */
  value: string;
  /** 0: any port. */
  port: number;
  /** A detection label (detect/types.ts LABELS); pool-endpoint unless the file says more. */
  label: string;
  coin: string;
  name: string;
}

/** A wallet address for screening. */
export interface ImportedAddress {
  /** Ticker as the file gives it (BTC, XMR, ...). */
  coin: string;
  address: string;
  /** Who or what the file ties it to (infrastructure, event or row name). */
  name: string;
}

/** Something in the file that was not used, with where it was and why. */
export interface SkippedIndicator {
  /** An object id, `Attribute[n]`, or `line n`. */
  where: string;
  why: string;
}

export interface ParsedIndicators {
  format: IndicatorFormat;
  /** Who published it: the STIX identity, the MISP Orgc, or the CSV's `# source:` / file name. */
  source: string;
  /** The version the file states (latest modified time, MISP timestamp, `# version:`), else its hash. */
  version: string;
  checksum: string;
  file: string;
  infrastructure: ImportedInfra[];
  addresses: ImportedAddress[];
  /** The first IMPORT_LIMITS.maxSkippedKept items left out, with why. */
  skipped: SkippedIndicator[];
  /** Items left out in all. */
  skippedCount: number;
  /** Objects or rows read in all. */
  read: number;
}

/** Checks the importer makes before anything of a file is used. */
export const IMPORT_LIMITS = {
  /** Bytes of one file (JSON.parse holds it all in memory). */
  maxBytes: 64 * 1024 * 1024,
  /** Objects, attributes or rows. */
  maxItems: 1_000_000,
  /** Characters of a value (an address, a domain, a name). */
  maxValueChars: 512,
  /** Skipped items kept with their reason (the rest are counted). */
  maxSkippedKept: 1000,
};
