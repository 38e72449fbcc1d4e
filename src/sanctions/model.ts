/** The entity/address model every list parser produces and the store keeps per list version. */
import type { Diagnostics } from '../flow/diagnostics.js';
import type { AddressCheck } from './address.js';

export type ListFormat = 'sdn-csv' | 'sdn-advanced-xml' | 'address-json' | 'address-csv' | 'indicators';

export interface SanctionedEntity {
  /** The list's own id (OFAC ent_num / FixedRef), or the label for user lists. */
  id: string;
  name: string;
  /** individual | entity | vessel | aircraft (OFAC's types; user lists say 'entity'). */
  type: string;
  programs: string[];
  aliases: string[];
  /** Postal addresses, one line each. */
  addresses: string[];
}

/** A digital-currency address as listed, with its validation. Invalid ones are kept and still matched exactly. */
export interface ListedAddress extends AddressCheck {
  /** Entity id, or null when the list names none (the per-asset JSON lists). */
  entityId: string | null;
  /** The code as the list writes it (XBT, ETH, USDT...). */
  listCode: string;
}

/**
 * A row (or a whole file) a parser could not read and left out. A list with any is not the list
 * as published: loading refuses it unless the user allows a partial load, and then the rows are
 * stored with the version.
 */
export interface SkippedRow {
  source: string;
  line: number;
  kind: string;
  /** What was expected and what was found. */
  message: string;
}

export interface ParsedList {
  /** Which list this is a version of (e.g. 'ofac-sdn', or a user list's name). */
  list: string;
  format: ListFormat;
  /** Files read, in the order hashed. */
  files: string[];
  /** Publication date as the list states it (YYYY-MM-DD), or as given by the user. */
  published: string | null;
  /** SHA-256 over the files' bytes in the order of `files`. */
  checksum: string;
  entities: SanctionedEntity[];
  addresses: ListedAddress[];
  /** Rows the parser could not read; empty when the list was read whole. */
  skipped: SkippedRow[];
  diagnostics: Diagnostics;
}

/** What every list parser accepts. */
export interface ParseOptions {
  /** Which list the version belongs to (default 'ofac-sdn' for OFAC formats). */
  list?: string;
  /** Publication date for formats that do not state their own. */
  published?: string | null;
  diagnostics?: Diagnostics;
}
