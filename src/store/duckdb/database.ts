import { readFileSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

/** One DuckDB file (or :memory:) with a connection; applies schema files shipped beside this module. */
export class DuckDbDatabase {
  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  static async open(path: string): Promise<DuckDbDatabase> {
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    // Fewer automatic checkpoints: a live collector commits every second, and each checkpoint
    // past DuckDB's 16 MB default rewrites table metadata (measured: 4x slower live ingest).
    await conn.run("SET checkpoint_threshold = '1GB'");
    return new DuckDbDatabase(path, instance, conn);
  }

  /** Run a schema file from store/duckdb/ (copied into dist/ by the build). */
  async applySchema(file: string): Promise<void> {
    const sql = readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');
    await this.conn.run(sql);
  }

  async run(sql: string, params?: DuckDBValue[]): Promise<void> {
    await this.conn.run(sql, params);
  }

  /** Rows as plain objects; BIGINT/HUGEINT become numbers (all counters here fit 2^53), lists arrays. */
  async all<T = Record<string, unknown>>(sql: string, params?: DuckDBValue[]): Promise<T[]> {
    const reader = await this.conn.runAndReadAll(sql, params);
    const rows = reader.getRowObjects();
    return rows.map((r) => {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r)) o[k] = plain(v);
      return o as T;
    });
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object') {
    // DuckDBBlobValue has .bytes, DuckDBListValue .items; timestamps and decimals have toString().
    const o = v as { bytes?: Uint8Array; items?: readonly unknown[]; toString(): string };
    if (o.bytes instanceof Uint8Array) return Buffer.from(o.bytes);
    if (Array.isArray(o.items)) return o.items.map(plain);
    return o.toString();
  }
  return v;
}
