/**
 * Applies schema.sql for the server's dialect: LowCardinality where it is a regular type (19.x
 * on; 18.16's is experimental and behind a setting), TTL where the server has it (19.6 on).
 */
import { readFileSync } from 'node:fs';
import { versionNumber, type ChConnection } from './connection.js';

const FILE = readFileSync(new URL('./schema.sql', import.meta.url), 'utf8');

export interface SchemaOptions {
  ttlDays?: number;
}

/** The statements of schema.sql for a server of this version. */
export function schemaStatements(version: string, o: SchemaOptions = {}): string[] {
  const v = versionNumber(version);
  if (o.ttlDays !== undefined && v < 1906)
    throw new Error(`ClickHouse ${version} has no TTL (19.6 and later have): leave ttl_days out or upgrade`);
  const ttl =
    o.ttlDays !== undefined
      ? `TTL toDateTime(intDiv(first_ms, 1000), 'UTC') + INTERVAL ${Math.trunc(o.ttlDays)} DAY`
      : '';
  return FILE.replace(/^--.*$/gm, '')
    .split(/^;$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => s.replace(/\bLC\((\w+)\)/g, v >= 1900 ? 'LowCardinality($1)' : '$1').replace(/^TTL$/m, ttl));
}

export async function applySchema(conn: ChConnection, o: SchemaOptions = {}): Promise<void> {
  for (const s of schemaStatements(conn.version, o)) await conn.command(s);
}
