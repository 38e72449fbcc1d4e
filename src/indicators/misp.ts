/**
 * Indicators from a MISP event (JSON export, format 2.4): attributes and object attributes that
 * MISP marks for detection (to_ids) of the network types (ip-dst, ip-dst|port, domain, hostname,
 * domain|ip) become infrastructure entries; wallet types (btc, xmr, dash) become addresses for
 * screening whatever their to_ids. An ip-port object's ip and dst-port make one endpoint. Hosts
 * seen (ip-src) are not pool infrastructure and are skipped, as is everything else, with a count.
 */
import { IMPORT_LIMITS, type ImportedAddress, type ImportedInfra } from './model.js';
import { infraEntry, quote, Skips } from './values.js';

type Obj = Record<string, unknown>;

export interface MispRead {
  source: string | null;
  version: string | null;
  infrastructure: ImportedInfra[];
  addresses: ImportedAddress[];
  read: number;
}

const WALLETS: Record<string, string> = { btc: 'BTC', xmr: 'XMR', dash: 'DASH' };

export function readMispEvent(doc: unknown, skips: Skips): MispRead {
  const ev = (doc as Obj)?.Event as Obj | undefined;
  if (typeof ev !== 'object' || ev === null || Array.isArray(ev))
    throw new Error('not a MISP event: expected {"Event": {...}}');
  const out: MispRead = { source: null, version: null, infrastructure: [], addresses: [], read: 0 };
  const attrs = Array.isArray(ev.Attribute) ? (ev.Attribute as unknown[]) : [];
  const objects = Array.isArray(ev.Object) ? (ev.Object as unknown[]) : [];
  if (attrs.length + objects.length > IMPORT_LIMITS.maxItems)
    throw new Error(
      `MISP event of ${attrs.length + objects.length} attributes and objects, more than ${IMPORT_LIMITS.maxItems}`,
    );
  const orgc = ev.Orgc as Obj | undefined;
  if (typeof orgc?.name === 'string') out.source = orgc.name.slice(0, 128);
  if (typeof ev.timestamp === 'string' && /^\d{1,12}$/.test(ev.timestamp))
    out.version = new Date(Number(ev.timestamp) * 1000).toISOString();
  else if (typeof ev.date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(ev.date)) out.version = ev.date;
  const info = typeof ev.info === 'string' ? ev.info.slice(0, IMPORT_LIMITS.maxValueChars) : 'MISP event';

  const use = (a: Obj, where: string, name: string, port = 0) => {
    out.read++;
    if (typeof a !== 'object' || a === null) return skips.add(where, 'not an attribute object');
    const type = String(a.type ?? '');
    const value = a.value;
    if (typeof value !== 'string') return skips.add(where, 'no string value');
    if (a.deleted === true) return skips.add(where, 'deleted');
    if (WALLETS[type]) {
      if (value.length > IMPORT_LIMITS.maxValueChars || /\s/.test(value) || !value)
        return skips.add(where, `bad ${type} address ${quote(value)}`);
      out.addresses.push({ coin: WALLETS[type], address: value, name });
      return;
    }
    const net = ['ip-dst', 'ip-dst|port', 'domain', 'hostname', 'domain|ip'].includes(type);
    if (!net) return skips.add(where, `type ${quote(type)}: not a pool endpoint, name or wallet`);
    if (a.to_ids !== true)
      return skips.add(where, `${type} with to_ids not true: MISP does not mark it for detection`);
    const parts = type.includes('|') ? value.split('|') : [value];
    if (parts.length !== (type.includes('|') ? 2 : 1))
      return skips.add(where, `${type} value ${quote(value)} is not two parts`);
    const add = (v: string, p: number) => {
      const e = infraEntry(v, p, { name });
      if (typeof e === 'string') skips.add(where, e);
      else out.infrastructure.push(e);
    };
    if (type === 'ip-dst|port') {
      if (!/^\d{1,5}$/.test(parts[1])) return skips.add(where, `port ${quote(parts[1])}`);
      add(parts[0], Number(parts[1]));
    } else for (const p of parts) add(p, port);
  };

  attrs.forEach((a, i) =>
    use(a as Obj, `Attribute[${i}]`, String((a as Obj)?.comment ?? '').slice(0, 200) || info),
  );
  objects.forEach((o, i) => {
    const obj = o as Obj;
    const oa = Array.isArray(obj?.Attribute) ? (obj.Attribute as Obj[]) : [];
    const where = `Object[${i}]`;
    if (obj?.name === 'ip-port') {
      const ip = oa.find((a) => a?.object_relation === 'ip' || a?.object_relation === 'ip-dst');
      const port = oa.find((a) => a?.object_relation === 'dst-port');
      const p =
        port && typeof port.value === 'string' && /^\d{1,5}$/.test(port.value) ? Number(port.value) : 0;
      if (ip) use({ ...ip, to_ids: ip.to_ids === true }, `${where}.ip`, String(obj.comment ?? info), p);
      for (const a of oa) if (a !== ip && a !== port) use(a, `${where}.${String(a?.object_relation)}`, info);
      return;
    }
    oa.forEach((a, k) => use(a, `${where}.Attribute[${k}]`, String(obj?.comment ?? info)));
  });
  return out;
}
