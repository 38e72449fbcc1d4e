/**
 * A Zeek Intel framework file (base/frameworks/intel): a `#fields` header, then one indicator a
 * line, fields separated by one tab, `-` for an empty field. Zeek has no indicator type for a
 * port or a wallet: pool endpoints go in as their address (Intel::ADDR) with the port in the
 * description, pool servers as Intel::DOMAIN; wallets are left out (say so in meta.desc of none).
 */
import type { ExportFindings } from './findings.js';

export const ZEEK_INTEL_FIELDS = [
  'indicator',
  'indicator_type',
  'meta.source',
  'meta.desc',
  'meta.url',
] as const;

/** A field value as Zeek's ASCII reader takes it: no tab or newline, `-` when empty. */
function field(v: string): string {
  const s = v.replace(/[\t\r\n]+/g, ' ').trim();
  return s === '' ? '-' : s;
}

export function buildZeekIntel(f: ExportFindings, o: { source?: string } = {}): string {
  const source = o.source ?? 'coinradar';
  const rows = new Map<string, string[]>();
  const add = (indicator: string, type: string, desc: string) => {
    const key = `${type}|${indicator}`;
    const had = rows.get(key);
    if (had) {
      had[3] = `${had[3]}; ${desc}`;
      return;
    }
    rows.set(key, [indicator, type, source, desc, '-']);
  };
  for (const p of f.pools) {
    add(
      p.ip,
      'Intel::ADDR',
      `mining pool ${p.pool || 'endpoint'} port ${p.port}${p.coin ? ` ${p.coin}` : ''}`,
    );
    if (p.server) add(p.server.toLowerCase(), 'Intel::DOMAIN', `mining pool server of ${p.pool}`);
  }
  const lines = [`#fields\t${ZEEK_INTEL_FIELDS.join('\t')}`];
  for (const r of rows.values()) lines.push(r.map(field).join('\t'));
  return lines.join('\n') + '\n';
}
