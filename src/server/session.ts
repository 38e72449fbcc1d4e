/**
 * Console sessions: an API key presented once to `POST /v1/session` becomes a random 256-bit
 * session id in an HttpOnly, SameSite=Strict cookie, so the browser never keeps the key where a
 * script could read it. The table lives in memory only (a restart signs everyone out), is bounded
 * in size (the oldest session goes first) and every session expires: after `idleMs` without a
 * request and `maxAgeMs` after sign-in, whichever comes first. A session stands for its key: when
 * the key file changes, sessions of keys revoked or gone are dropped before the next request.
 */
import { randomBytes } from 'node:crypto';
import type { ApiKeyFile, ApiKeyRecord } from './keys.js';

export const SESSION_COOKIE = 'coinradar_session';

export interface SessionLimits {
  /** Most sessions held; signing in beyond this ends the oldest. */
  max: number;
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after sign-in whatever its use. */
  maxAgeMs: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  max: 10_000,
  idleMs: 30 * 60_000,
  maxAgeMs: 12 * 3600_000,
};

interface Session {
  key: ApiKeyRecord;
  createdMs: number;
  usedMs: number;
}

export class SessionTable {
  // Insertion order is sign-in order: the first entry is the oldest session.
  private readonly byId = new Map<string, Session>();
  private generation: number;
  readonly limits: SessionLimits;

  constructor(
    private readonly keys: ApiKeyFile,
    limits: Partial<SessionLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...limits };
    this.generation = keys.generation;
  }

  get size(): number {
    return this.byId.size;
  }

  /** A new session for `key`; returns its id (43 base64url characters = 256 bits). */
  create(key: ApiKeyRecord): string {
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    while (this.byId.size >= this.limits.max) {
      const oldest = this.byId.keys().next().value as string;
      this.byId.delete(oldest);
    }
    this.byId.set(id, { key, createdMs: t, usedMs: t });
    return id;
  }

  /** The key behind a live session id, or null (unknown, expired, or its key revoked). */
  lookup(id: string): ApiKeyRecord | null {
    this.dropRevoked();
    const s = this.byId.get(id);
    if (!s) return null;
    const t = this.now();
    if (t - s.usedMs > this.limits.idleMs || t - s.createdMs > this.limits.maxAgeMs) {
      this.byId.delete(id);
      return null;
    }
    s.usedMs = t;
    return s.key;
  }

  /** End a session (sign-out); true when there was one. */
  delete(id: string): boolean {
    return this.byId.delete(id);
  }

  /** The attributes of the cookie that carries `id` (Max-Age = the absolute lifetime). */
  cookie(id: string, secure: boolean): string {
    return (
      `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.limits.maxAgeMs / 1000)}` +
      (secure ? '; Secure' : '')
    );
  }

  /** The cookie that makes a browser forget the session. */
  static clearCookie(secure: boolean): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0` + (secure ? '; Secure' : '');
  }

  private dropRevoked(): void {
    if (this.keys.generation === this.generation) return;
    this.generation = this.keys.generation;
    const live = new Map(this.keys.list().map((k) => [k.id, k]));
    for (const [id, s] of this.byId) {
      const k = live.get(s.key.id);
      if (!k || k.revokedAt || k.hash !== s.key.hash) this.byId.delete(id);
    }
  }
}

/** The session id in a Cookie header, or null. Only a well-formed id is taken. */
export function sessionIdFrom(cookieHeader: string | undefined): string | null {
  if (!cookieHeader) return null;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const v = part.slice(eq + 1).trim();
    if (/^[A-Za-z0-9_-]{43}$/.test(v)) return v;
  }
  return null;
}
