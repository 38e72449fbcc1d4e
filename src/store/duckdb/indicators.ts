/**
 * Imported indicator sets and their infrastructure entries (schema: indicators.sql). A set is one
 * import of one source's file; importing the same bytes from the same source again is a no-op, and
 * detection uses the latest set of each source.
 */
import type { ImportedInfra, ParsedIndicators, SkippedIndicator } from '../../indicators/model.js';
import type { DuckDBAppender } from '@duckdb/node-api';
import { closeAppender, discardAppender } from './chunk.js';
import type { DuckDbDatabase } from './database.js';

export interface IndicatorSet {
  id: number;
  source: string;
  format: string;
  version: string;
  checksum: string;
  file: string;
  importedAt: string;
  infrastructure: number;
  addresses: number;
  skipped: SkippedIndicator[];
}

export type StoredInfra = ImportedInfra & { source: string; version: string };

export class DuckDbIndicatorStore {
  private constructor(private readonly db: DuckDbDatabase) {}

  static async attach(db: DuckDbDatabase): Promise<DuckDbIndicatorStore> {
    await db.applySchema('indicators.sql');
    return new DuckDbIndicatorStore(db);
  }

  /** Whether the file has imported indicators at all, without creating the tables. */
  static async present(db: DuckDbDatabase): Promise<boolean> {
    const [r] = await db.all<{ n: number }>(
      "SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_name = 'indicator_infrastructure'",
    );
    return r.n > 0;
  }

  async save(p: ParsedIndicators): Promise<{ set: IndicatorSet; existed: boolean }> {
    const [old] = await this.sets(p.source, p.checksum);
    if (old) return { set: old, existed: true };
    await this.db.run('BEGIN TRANSACTION');
    // An appender left open after a failure would flush its rows into a later transaction.
    let open: DuckDBAppender | null = null;
    try {
      const [{ id }] = await this.db.all<{ id: number }>(
        "SELECT nextval('indicator_set_seq')::INTEGER AS id",
      );
      await this.db.run(
        `INSERT INTO indicator_sets VALUES ($1, $2, $3, $4, $5, $6, now()::TIMESTAMP, $7, $8, $9)`,
        [
          id,
          p.source,
          p.format,
          p.version,
          p.checksum,
          p.file,
          p.infrastructure.length,
          p.addresses.length,
          JSON.stringify({ count: p.skippedCount, first: p.skipped }),
        ],
      );
      const a = (open = await this.db.conn.createAppender('indicator_infrastructure'));
      for (const e of p.infrastructure) {
        a.appendInteger(id);
        a.appendVarchar(e.value);
        a.appendInteger(e.port);
        a.appendVarchar(e.label);
        a.appendVarchar(e.coin);
        a.appendVarchar(e.name);
        a.endRow();
      }
      open = null;
      closeAppender(a);
      await this.db.run('COMMIT');
      const [set] = await this.sets(p.source, p.checksum);
      return { set, existed: false };
    } catch (e) {
      if (open) discardAppender(open);
      await this.db.run('ROLLBACK');
      throw e;
    }
  }

  async sets(source?: string, checksum?: string): Promise<IndicatorSet[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT id, source, format, version, checksum, file, strftime(imported_at, '%Y-%m-%dT%H:%M:%SZ') AS imported_at,
              infrastructure, addresses, skipped
       FROM indicator_sets WHERE ($1::VARCHAR IS NULL OR source = $1) AND ($2::VARCHAR IS NULL OR checksum = $2)
       ORDER BY id`,
      [source ?? null, checksum ?? null],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      source: String(r.source),
      format: String(r.format),
      version: String(r.version),
      checksum: String(r.checksum),
      file: String(r.file),
      importedAt: String(r.imported_at),
      infrastructure: Number(r.infrastructure),
      addresses: Number(r.addresses),
      skipped: (JSON.parse(String(r.skipped)) as { first: SkippedIndicator[] }).first,
    }));
  }

  /** The entries of the latest set of each source. */
  async currentInfrastructure(): Promise<StoredInfra[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      `WITH latest AS (SELECT id, source, version FROM indicator_sets
                       QUALIFY row_number() OVER (PARTITION BY source ORDER BY id DESC) = 1)
       SELECT i.value, i.port, i.label, i.coin, i.name, l.source, l.version
       FROM indicator_infrastructure i JOIN latest l ON l.id = i.set_id ORDER BY l.source, i.value, i.port`,
    );
    return rows.map((r) => ({
      value: String(r.value),
      port: Number(r.port),
      label: String(r.label),
      coin: String(r.coin),
      name: String(r.name),
      source: String(r.source),
      version: String(r.version),
    }));
  }
}
