/**
 * Applies schema.sql for the server's dialect: LowCardinality where it is a regular type (19.x
 * on; 18.16's is experimental and behind a setting), TTL where the server has it (19.6 on).
 * On a cluster every table of schema.sql becomes `NAME_local` on each shard and `NAME` a
 * Distributed table over them (on each shard too, so any of them answers), so that the queries
 * name the same tables on one server and on a cluster.
 */
import { readFileSync } from 'node:fs';
import { versionNumber, type ChConnection } from './connection.js';

const FILE = readFileSync(new URL('./schema.sql', import.meta.url), 'utf8');

export interface SchemaOptions {
  ttlDays?: number;
}

/**
 * How the rows of each table are spread over the shards. Flows: by the watched end's address
 * when only the destination is on a watchlist, else by the source's — every flow of a watched
 * host, either direction, on one shard (its host profile's peers and sessions are then on one
 * shard, and a shard's loss takes whole hosts rather than part of every host). Sources, id
 * blocks and AS names by their key, so that every version of one row of these
 * ReplacingMergeTrees lands on one shard and FINAL (applied per shard) keeps only the newest;
 * detections, artifacts and payload samples by their flow id.
 */
export const SHARDING_KEYS: Record<string, string> = {
  flow_table: "cityHash64(if(src_watch = '' AND dst_watch != '', dst_ip, src_ip))",
  sources: 'id',
  id_blocks: 'n',
  flow_payloads: 'flow_id',
  as_orgs: 'asn',
  detections: 'flow_id',
  artifacts: 'flow_id',
};

/** The tables of schema.sql, in its order. */
export const TABLES = [...FILE.matchAll(/^CREATE TABLE IF NOT EXISTS (\w+)/gm)].map((m) => m[1]);

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

/** The statements of one shard of `cluster`: its local tables, then the Distributed ones over them. */
export function clusterStatements(
  version: string,
  cluster: string,
  database: string,
  o: SchemaOptions = {},
): string[] {
  const local = schemaStatements(version, o).map((s) =>
    s.replace(/^CREATE TABLE IF NOT EXISTS (\w+)/, 'CREATE TABLE IF NOT EXISTS $1_local'),
  );
  const dist = TABLES.map((t) => {
    const key = SHARDING_KEYS[t];
    if (!key) throw new Error(`schema.sql: table ${t} has no sharding key (schema.ts SHARDING_KEYS)`);
    return `CREATE TABLE IF NOT EXISTS ${t} AS ${t}_local ENGINE = Distributed(${cluster}, ${database}, ${t}_local, ${key})`;
  });
  return [...local, ...dist];
}

export async function applySchema(conn: ChConnection, o: SchemaOptions = {}): Promise<void> {
  for (const s of schemaStatements(conn.version, o)) await conn.command(s);
}

/** The cluster a store's existing tables were made for (Distributed(NAME, …)), or null (one server). */
export function clusterOfTables(tables: Map<string, string>): string | null {
  const m = /^Distributed\(\s*'?(\w+)'?/.exec(tables.get('flow_table') ?? '');
  return m ? m[1] : null;
}
