import type { ListedAddress, ParsedList, SanctionedEntity, SkippedRow } from '../../sanctions/model.js';
import type { SanctionsStore, SanctionsVersion } from '../sanctions.js';
import type { DuckDBAppender } from '@duckdb/node-api';
import { closeAppender, discardAppender } from './chunk.js';
import { DuckDbDatabase } from './database.js';

interface VersionRow {
  id: number;
  list: string;
  format: string;
  published: string | null;
  checksum: string;
  files: string;
  loaded_at: string;
  entities: number;
  addresses: number;
  invalid_addresses: number;
  partial: boolean | null;
  skipped: string | null;
}

const VERSION_COLS =
  'id, list, format, published, checksum, files, loaded_at, entities, addresses, invalid_addresses, partial, skipped';

function toVersion(r: VersionRow): SanctionsVersion {
  return {
    id: r.id,
    list: r.list,
    format: r.format,
    published: r.published,
    checksum: r.checksum,
    files: JSON.parse(r.files) as string[],
    loadedAt: r.loaded_at.replace(' ', 'T') + (r.loaded_at.endsWith('Z') ? '' : 'Z'),
    entities: r.entities,
    addresses: r.addresses,
    invalidAddresses: r.invalid_addresses,
    partial: r.partial === true,
    skipped: r.skipped ? (JSON.parse(r.skipped) as SkippedRow[]) : [],
  };
}

export class DuckDbSanctionsStore implements SanctionsStore {
  private constructor(readonly db: DuckDbDatabase) {}

  private owned = true;

  static async open(path: string): Promise<DuckDbSanctionsStore> {
    const db = await DuckDbDatabase.open(path);
    await db.applySchema('sanctions.sql');
    return new DuckDbSanctionsStore(db);
  }

  /**
   * Use a database another store already opened (one process cannot open the same DuckDB file
   * twice); close() then leaves it open for its owner.
   */
  static async attach(db: DuckDbDatabase): Promise<DuckDbSanctionsStore> {
    await db.applySchema('sanctions.sql');
    const store = new DuckDbSanctionsStore(db);
    store.owned = false;
    return store;
  }

  async saveVersion(list: ParsedList): Promise<{ version: SanctionsVersion; existed: boolean }> {
    const db = this.db;
    const [old] = await db.all<VersionRow>(
      `SELECT ${VERSION_COLS} FROM sanctions_versions WHERE list = $1 AND checksum = $2`,
      [list.list, list.checksum],
    );
    if (old) return { version: toVersion(old), existed: true };
    await db.run('BEGIN TRANSACTION');
    // An appender left open after a failure would flush its rows into a later transaction.
    const open = new Set<DuckDBAppender>();
    try {
      const [{ id }] = await db.all<{ id: number }>("SELECT nextval('sanctions_version_seq')::INTEGER AS id");
      const invalid = list.addresses.filter((a) => !a.valid).length;
      await db.run(
        `INSERT INTO sanctions_versions (${VERSION_COLS}, diagnostics)
         VALUES ($1, $2, $3, $4, $5, $6, now()::TIMESTAMP, $7, $8, $9, $11, $12, $10)`,
        [
          id,
          list.list,
          list.format,
          list.published,
          list.checksum,
          JSON.stringify(list.files),
          list.entities.length,
          list.addresses.length,
          invalid,
          JSON.stringify(list.diagnostics.toJSON()),
          list.skipped.length > 0,
          JSON.stringify(list.skipped),
        ],
      );
      const ea = await db.conn.createAppender('sanctions_entities');
      open.add(ea);
      for (const e of list.entities) {
        ea.appendInteger(id);
        ea.appendVarchar(e.id);
        ea.appendVarchar(e.name);
        ea.appendVarchar(e.type);
        ea.appendVarchar(JSON.stringify(e.programs));
        ea.appendVarchar(JSON.stringify(e.aliases));
        ea.appendVarchar(JSON.stringify(e.addresses));
        ea.endRow();
      }
      open.delete(ea);
      closeAppender(ea);
      const aa = await db.conn.createAppender('sanctions_addresses');
      open.add(aa);
      const opt = (v: string | undefined | null) => (v == null ? aa.appendNull() : aa.appendVarchar(v));
      for (const a of list.addresses) {
        aa.appendInteger(id);
        opt(a.entityId);
        aa.appendVarchar(a.listCode);
        aa.appendVarchar(a.coin);
        aa.appendVarchar(a.address);
        aa.appendVarchar(a.key);
        aa.appendBoolean(a.valid);
        aa.appendBoolean(a.checked);
        aa.appendVarchar(a.kind);
        opt(a.network);
        opt(a.problem);
        opt(a.aliases ? JSON.stringify(a.aliases) : null);
        aa.endRow();
      }
      open.delete(aa);
      closeAppender(aa);
      await db.run('COMMIT');
      return { version: (await this.version(id))!, existed: false };
    } catch (e) {
      for (const a of open) discardAppender(a);
      await db.run('ROLLBACK');
      throw e;
    }
  }

  async versions(list?: string): Promise<SanctionsVersion[]> {
    const rows = list
      ? await this.db.all<VersionRow>(
          `SELECT ${VERSION_COLS} FROM sanctions_versions WHERE list = $1 ORDER BY id`,
          [list],
        )
      : await this.db.all<VersionRow>(`SELECT ${VERSION_COLS} FROM sanctions_versions ORDER BY id`);
    return rows.map(toVersion);
  }

  async version(id: number): Promise<SanctionsVersion | null> {
    const [r] = await this.db.all<VersionRow>(
      `SELECT ${VERSION_COLS} FROM sanctions_versions WHERE id = $1`,
      [id],
    );
    return r ? toVersion(r) : null;
  }

  async currentVersions(): Promise<SanctionsVersion[]> {
    const rows = await this.db.all<VersionRow>(
      `SELECT ${VERSION_COLS} FROM sanctions_versions
       QUALIFY row_number() OVER (PARTITION BY list ORDER BY published DESC NULLS LAST, id DESC) = 1
       ORDER BY list`,
    );
    return rows.map(toVersion);
  }

  async entities(versionId: number): Promise<SanctionedEntity[]> {
    const rows = await this.db.all<{
      entity_id: string;
      name: string;
      type: string;
      programs: string;
      aliases: string;
      postal: string;
    }>(
      'SELECT entity_id, name, type, programs, aliases, postal FROM sanctions_entities WHERE version_id = $1',
      [versionId],
    );
    return rows.map((r) => ({
      id: r.entity_id,
      name: r.name,
      type: r.type,
      programs: JSON.parse(r.programs) as string[],
      aliases: JSON.parse(r.aliases) as string[],
      addresses: JSON.parse(r.postal) as string[],
    }));
  }

  async addresses(versionId: number): Promise<ListedAddress[]> {
    const rows = await this.db.all<{
      entity_id: string | null;
      list_code: string;
      coin: string;
      address: string;
      key: string;
      valid: boolean;
      checked: boolean;
      kind: string;
      network: string | null;
      problem: string | null;
      aliases: string | null;
    }>('SELECT * EXCLUDE (version_id) FROM sanctions_addresses WHERE version_id = $1', [versionId]);
    return rows.map((r) => {
      const a: ListedAddress = {
        entityId: r.entity_id,
        listCode: r.list_code,
        coin: r.coin,
        address: r.address,
        key: r.key,
        valid: r.valid,
        checked: r.checked,
        kind: r.kind as ListedAddress['kind'],
      };
      if (r.network) a.network = r.network as ListedAddress['network'];
      if (r.problem) a.problem = r.problem;
      if (r.aliases) a.aliases = JSON.parse(r.aliases) as string[];
      return a;
    });
  }

  async close(): Promise<void> {
    if (this.owned) await this.db.close();
  }
}

export async function openSanctionsStore(path: string): Promise<SanctionsStore> {
  return DuckDbSanctionsStore.open(path);
}
