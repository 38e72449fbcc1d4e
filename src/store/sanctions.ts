/** Storage of sanctions list versions: every load is a version; older versions are kept. */
import type { ListedAddress, ParsedList, SanctionedEntity, SkippedRow } from '../sanctions/model.js';

export interface SanctionsVersion {
  id: number;
  /** Which list this is a version of ('ofac-sdn', or a user list's name). */
  list: string;
  format: string;
  published: string | null;
  checksum: string;
  files: string[];
  loadedAt: string;
  entities: number;
  addresses: number;
  invalidAddresses: number;
  /**
   * True when the version was loaded with --allow-partial and rows were left out: it is not the
   * whole list, and whatever shows the version should say so.
   */
  partial: boolean;
  /** The rows left out (file, line, what was wrong); empty for a whole list. */
  skipped: SkippedRow[];
}

export interface SanctionsStore {
  /** Store a parsed list as a new version; the same list with the same checksum returns the existing one. */
  saveVersion(list: ParsedList): Promise<{ version: SanctionsVersion; existed: boolean }>;
  versions(list?: string): Promise<SanctionsVersion[]>;
  version(id: number): Promise<SanctionsVersion | null>;
  /** The newest version of every list (by publication date, then load order): what screening uses. */
  currentVersions(): Promise<SanctionsVersion[]>;
  entities(versionId: number): Promise<SanctionedEntity[]>;
  addresses(versionId: number): Promise<ListedAddress[]>;
  close(): Promise<void>;
}

/** Open the sanctions store in the DuckDB file at `path` (the same --db file as the flow store). */
export { openSanctionsStore } from './duckdb/sanctions.js';
