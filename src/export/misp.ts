/**
 * A MISP event (the JSON of MISP's event export, format 2.4) of a scope's findings. Attribute
 * types, categories and to_ids are MISP's own defaults for each type (describeTypes.json's
 * sane_defaults; test/export/misp.test.ts checks this table against it), so an analyst sees the
 * same flags as if the attribute had been typed into MISP. MISP's strict event schema has no place
 * for objects, so objects (ip-port, domain-ip) come only with `objects: true`.
 */
import type { ExportFindings } from './findings.js';
import type { Tlp } from './stix.js';
import { COINRADAR_NAMESPACE, uuidV5 } from './uuid.js';

/** The MISP types used here with their default category and to_ids (describeTypes.json). */
export const MISP_TYPES = {
  'ip-dst|port': { category: 'Network activity', to_ids: true },
  'ip-dst': { category: 'Network activity', to_ids: true },
  'ip-src': { category: 'Network activity', to_ids: true },
  domain: { category: 'Network activity', to_ids: true },
  port: { category: 'Network activity', to_ids: false },
  btc: { category: 'Financial fraud', to_ids: true },
  xmr: { category: 'Financial fraud', to_ids: true },
  dash: { category: 'Financial fraud', to_ids: true },
  text: { category: 'Other', to_ids: false },
  datetime: { category: 'Other', to_ids: false },
} as const;
export type MispType = keyof typeof MISP_TYPES;

export interface MispAttribute {
  uuid: string;
  type: MispType;
  category: string;
  to_ids: boolean;
  value: string;
  comment: string;
  timestamp: string;
  distribution: string;
  disable_correlation: boolean;
  object_relation?: string;
}

export interface MispObject {
  uuid: string;
  name: string;
  'meta-category': string;
  template_uuid: string;
  template_version: string;
  description: string;
  timestamp: string;
  distribution: string;
  comment: string;
  first_seen?: string;
  last_seen?: string;
  Attribute: MispAttribute[];
}

export interface MispEvent {
  Event: {
    uuid: string;
    info: string;
    date: string;
    threat_level_id: string;
    analysis: string;
    distribution: string;
    published: boolean;
    timestamp: string;
    attribute_count: string;
    Orgc: { name: string; uuid: string };
    Tag: { name: string; colour: string; exportable: boolean }[];
    Attribute: MispAttribute[];
    Object?: MispObject[];
  };
}

export interface MispOptions {
  producer?: string;
  tlp?: Tlp;
  /** Add MISP objects (ip-port per pool endpoint, domain-ip per pool server). */
  objects?: boolean;
}

const TLP_COLOUR: Record<Tlp, string> = {
  white: '#ffffff',
  green: '#339900',
  amber: '#ffc000',
  red: '#cc0033',
};

/** MISP object templates used (misp-objects repository: name, uuid, version). */
const TEMPLATES = {
  'ip-port': { uuid: '9f8cea74-16fe-4968-a2b4-026676949ac6', version: '10', meta: 'network' },
  'domain-ip': { uuid: '43b3b146-77eb-4931-b4cc-b66c60f28734', version: '11', meta: 'network' },
} as const;

export function buildMispEvent(f: ExportFindings, o: MispOptions = {}): MispEvent {
  const producer = o.producer ?? 'coinradar';
  const tlp = o.tlp ?? 'amber';
  const eventUuid = uuidV5(COINRADAR_NAMESPACE, `misp-event|${f.report.scope}|${f.report.period.from}`);
  const ts = String(Math.floor(Date.parse(f.asOf) / 1000));
  const seen = new Set<string>();
  const attrs: MispAttribute[] = [];
  const attr = (type: MispType, value: string, comment: string, relation?: string): MispAttribute => ({
    uuid: uuidV5(
      COINRADAR_NAMESPACE,
      `misp-attribute|${eventUuid}|${relation ?? ''}|${type}|${value}|${comment}`,
    ),
    type,
    category: MISP_TYPES[type].category,
    to_ids: MISP_TYPES[type].to_ids,
    value,
    comment,
    timestamp: ts,
    // 5: as the event.
    distribution: '5',
    disable_correlation: false,
    ...(relation ? { object_relation: relation } : {}),
  });
  const add = (type: MispType, value: string, comment: string) => {
    if (seen.has(`${type}|${value}`)) return;
    seen.add(`${type}|${value}`);
    attrs.push(attr(type, value, comment));
  };

  for (const finding of f.report.findings) add('text', finding, 'finding');
  for (const tl of f.report.timelines)
    for (const c of tl.changes.filter((x) => x.kind === 'increase'))
      add(
        'datetime',
        new Date(c.onsetMs).toISOString(),
        `surge onset of ${tl.label} (95 % interval ${c.onsetInterval[0].slice(0, 10)} – ${c.onsetInterval[1].slice(0, 10)}, ${c.shape}, posterior ${c.probability.toFixed(3)})`,
      );
  const objects: MispObject[] = [];
  const servers = new Map<string, { ips: Set<string>; first: string; last: string; pool: string }>();
  for (const p of f.pools) {
    const what = `mining pool ${p.pool || 'endpoint'}${p.coin ? ` (${p.coin})` : ''}: ${p.flows} flows from ${p.hosts} host(s), first ${p.firstSeen}, last ${p.lastSeen}`;
    add('ip-dst|port', `${p.ip}|${p.port}`, what);
    if (p.server) {
      add('domain', p.server.toLowerCase(), `mining pool server of ${p.pool}`);
      const s = servers.get(p.server.toLowerCase()) ?? {
        ips: new Set(),
        first: p.firstSeen,
        last: p.lastSeen,
        pool: p.pool,
      };
      s.ips.add(p.ip);
      if (p.firstSeen < s.first) s.first = p.firstSeen;
      if (p.lastSeen > s.last) s.last = p.lastSeen;
      servers.set(p.server.toLowerCase(), s);
    }
    if (o.objects) {
      const uuid = uuidV5(COINRADAR_NAMESPACE, `misp-object|${eventUuid}|ip-port|${p.ip}|${p.port}`);
      objects.push({
        uuid,
        name: 'ip-port',
        'meta-category': TEMPLATES['ip-port'].meta,
        template_uuid: TEMPLATES['ip-port'].uuid,
        template_version: TEMPLATES['ip-port'].version,
        description:
          'An IP address (or domain or hostname) and a port seen as a tuple (or as a triple) in a specific time frame.',
        timestamp: ts,
        distribution: '5',
        comment: what,
        first_seen: p.firstSeen,
        last_seen: p.lastSeen,
        Attribute: [
          attr('ip-dst', p.ip, '', 'ip'),
          attr('port', String(p.port), '', 'dst-port'),
          ...(p.server ? [attr('domain', p.server.toLowerCase(), '', 'domain')] : []),
        ],
      });
    }
  }
  if (o.objects)
    for (const [name, s] of servers)
      objects.push({
        uuid: uuidV5(COINRADAR_NAMESPACE, `misp-object|${eventUuid}|domain-ip|${name}`),
        name: 'domain-ip',
        'meta-category': TEMPLATES['domain-ip'].meta,
        template_uuid: TEMPLATES['domain-ip'].uuid,
        template_version: TEMPLATES['domain-ip'].version,
        description: 'A domain and IP address seen as a tuple in a specific time frame.',
        timestamp: ts,
        distribution: '5',
        comment: `mining pool ${s.pool}`,
        first_seen: s.first,
        last_seen: s.last,
        Attribute: [
          attr('domain', name, '', 'domain'),
          ...[...s.ips].sort().map((ip) => attr('ip-dst', ip, '', 'ip')),
        ],
      });
  for (const h of f.report.hosts)
    add(
      'ip-src',
      h.host,
      `host of the scope (${f.report.scope}): ${h.flows} flows on ${h.labels.join(', ') || 'pool endpoints'}, ${h.firstSeen} – ${h.lastSeen}`,
    );
  for (const w of f.wallets) {
    const type: MispType | null =
      w.coin === 'BTC' ? 'btc' : w.coin === 'XMR' ? 'xmr' : w.coin === 'DASH' ? 'dash' : null;
    const comment = `${w.coin} wallet seen from ${w.hosts.join(', ') || 'unknown hosts'}: ${w.evidence}`;
    // MISP has types for three coins only; other wallets travel as text with their coin named.
    if (type) add(type, w.address, comment);
    else add('text', w.address, comment);
  }
  return {
    Event: {
      uuid: eventUuid,
      info: `Cryptocurrency activity: ${f.report.scope}, ${f.report.period.from} – ${f.report.period.to}`,
      date: f.report.period.to,
      // 4: undefined (the receiver judges); 2: analysis completed; 0: this organisation only.
      threat_level_id: '4',
      analysis: '2',
      distribution: '0',
      published: false,
      timestamp: ts,
      attribute_count: String(attrs.length),
      Orgc: { name: producer, uuid: uuidV5(COINRADAR_NAMESPACE, `misp-org|${producer}`) },
      Tag: [{ name: `tlp:${tlp}`, colour: TLP_COLOUR[tlp], exportable: true }],
      Attribute: attrs,
      ...(o.objects ? { Object: objects } : {}),
    },
  };
}
