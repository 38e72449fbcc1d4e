/** The checks every format's values go through before they reach a list: hostile files lie. */
import { isIP } from 'node:net';
import { IMPORT_LIMITS, type ImportedInfra, type SkippedIndicator } from './model.js';

/** A DNS name as detection matches them: labels of letters, digits, '-' and '_', at least two. */
const DOMAIN = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z][a-z0-9-]{0,62}$/;

export function checkIp(v: string): string | null {
  const slash = v.indexOf('/');
  const addr = slash < 0 ? v : v.slice(0, slash);
  const version = isIP(addr);
  if (version === 0) return `not an IP address: ${quote(v)}`;
  if (slash >= 0) {
    const bits = v.slice(slash + 1);
    const max = version === 4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `bad prefix length in ${quote(v)}`;
    // A network wider than a /8 (or an IPv6 /32) would make half the Internet a pool.
    if (Number(bits) < (version === 4 ? 8 : 32))
      return `network ${quote(v)} is wider than a /${version === 4 ? 8 : 32}`;
  }
  return null;
}

export function checkDomain(v: string): string | null {
  return DOMAIN.test(v) ? null : `not a domain name: ${quote(v)}`;
}

export function checkPort(p: number): string | null {
  return Number.isInteger(p) && p >= 0 && p <= 65535 ? null : `not a port: ${p}`;
}

export function quote(v: string): string {
  return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
}

/** Collects skipped items: the first maxSkippedKept with their reason, all counted. */
export class Skips {
  readonly kept: SkippedIndicator[] = [];
  count = 0;
  add(where: string, why: string): void {
    this.count++;
    if (this.kept.length < IMPORT_LIMITS.maxSkippedKept) this.kept.push({ where, why });
  }
}

/** An infrastructure entry from a value that may be an address, a network or a name. */
export function infraEntry(
  raw: string,
  port: number,
  meta: { label?: string; coin?: string; name?: string },
): ImportedInfra | string {
  const value = raw.trim().toLowerCase().replace(/\.$/, '');
  if (value.length > IMPORT_LIMITS.maxValueChars) return `value of ${value.length} characters`;
  const bad =
    (/^[0-9.]+(\/\d+)?$/.test(value) || value.includes(':') ? checkIp(value) : checkDomain(value)) ??
    checkPort(port);
  if (bad) return bad;
  return {
    value,
    port,
    label: meta.label ?? 'pool-endpoint',
    coin: (meta.coin ?? '').slice(0, 32),
    name: (meta.name ?? value).slice(0, IMPORT_LIMITS.maxValueChars),
  };
}
