/**
 * API keys. Only SHA-256 hashes are stored, in a small JSON file next to the DuckDB file
 * (`<db>.keys.json`): a running server sees a created or revoked key within a second without
 * opening DuckDB, whose file a `coinradar sanctions load` may be writing at the same time.
 * Keys are 32 random bytes (base64url) behind a `crk_<id>_` prefix, so a plain hash suffices.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** hex SHA-256 of the whole key string. */
  hash: string;
  createdAt: string;
  revokedAt: string | null;
}

export type KeyCheck =
  { ok: true; key: ApiKeyRecord } | { ok: false; reason: 'invalid_api_key' | 'revoked_api_key' };

export function keysPathFor(dbPath: string): string {
  return `${dbPath}.keys.json`;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class ApiKeyFile {
  private byHash = new Map<string, ApiKeyRecord>();
  /** Keys seen valid since the file last changed (skips the hash per request); cleared on reload. */
  private valid = new Map<string, ApiKeyRecord>();
  private records: ApiKeyRecord[] = [];
  private stamp = '';
  private timer: NodeJS.Timeout | null = null;
  /** Goes up whenever the file's keys are re-read: caches of check() results compare it. */
  generation = 0;

  constructor(readonly path: string) {
    this.reload();
  }

  /** Re-read the file if it changed (cheap: one stat). */
  reload(): void {
    // mtime and size together: two writes within one mtime tick still differ in size.
    let m: string;
    try {
      m = existsSync(this.path) ? `${statSync(this.path).mtimeMs}:${statSync(this.path).size}` : 'none';
    } catch {
      return;
    }
    if (m === this.stamp) return;
    this.stamp = m;
    if (m === 'none') {
      this.records = [];
    } else {
      try {
        const doc = JSON.parse(readFileSync(this.path, 'utf8')) as { keys?: ApiKeyRecord[] };
        this.records = Array.isArray(doc.keys) ? doc.keys : [];
      } catch {
        // A half-written file (should not happen: writes are atomic renames) keeps the old keys.
        return;
      }
    }
    this.byHash = new Map(this.records.map((r) => [r.hash, r]));
    this.valid.clear();
    this.generation++;
  }

  /** Poll for changes every `ms` (servers); unref'd so it never keeps a process alive. */
  watch(ms = 1000): void {
    this.timer = setInterval(() => this.reload(), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  list(): ApiKeyRecord[] {
    return [...this.records];
  }

  check(key: string): KeyCheck {
    const seen = this.valid.get(key);
    if (seen) return { ok: true, key: seen };
    const r = this.byHash.get(hashKey(key));
    if (!r) return { ok: false, reason: 'invalid_api_key' };
    if (r.revokedAt) return { ok: false, reason: 'revoked_api_key' };
    if (this.valid.size < 10_000) this.valid.set(key, r);
    return { ok: true, key: r };
  }

  /** Create a key; the plain key is returned once and never stored. */
  create(name: string): { key: string; record: ApiKeyRecord } {
    this.reload();
    const id = randomBytes(6).toString('hex');
    const key = `crk_${id}_${randomBytes(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id,
      name,
      hash: hashKey(key),
      createdAt: new Date().toISOString(),
      revokedAt: null,
    };
    this.save([...this.records, record]);
    return { key, record };
  }

  revoke(id: string): ApiKeyRecord {
    this.reload();
    const r = this.records.find((x) => x.id === id);
    if (!r) throw new Error(`no API key with id ${id}`);
    if (!r.revokedAt) r.revokedAt = new Date().toISOString();
    this.save(this.records);
    return r;
  }

  private save(records: ApiKeyRecord[]): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ keys: records }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
    this.stamp = '';
    this.reload();
  }
}
