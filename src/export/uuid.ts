/**
 * Name-based UUIDs (RFC 9562 version 5, SHA-1): the same content always gets the same id, so a
 * re-export of the same store gives the same STIX ids and MISP uuids, and a receiver can tell a
 * new version of an object from a new object.
 */
import { createHash } from 'node:crypto';

/** The namespace of coinradar's own ids (a random v4 UUID chosen once; never change it). */
export const COINRADAR_NAMESPACE = '7b0c4f2e-3f5d-4c1a-9e0b-5a3d2c1b0f6e';
/** STIX 2.1 §2.9: the namespace for deterministic cyber-observable ids. */
export const STIX_SCO_NAMESPACE = '00abedb4-aa42-466c-9c01-fed23315a9b7';

export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`bad namespace UUID ${namespace}`);
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * RFC 8785 (JCS) canonical JSON for the values an SCO id is made of (strings, integers, arrays,
 * objects): keys sorted by UTF-16 code units, no whitespace. STIX 2.1 §2.9 hashes this.
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}
