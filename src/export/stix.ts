/**
 * A STIX 2.1 bundle of a scope's findings. Objects and why:
 * - identity: the producer; every object is created_by it.
 * - marking-definition: the TLP 1.0 definition chosen (the standard object with its fixed id);
 *   every object carries it in object_marking_refs.
 * - extension-definition: coinradar's extension, by the rules of STIX 2.1 §7.3: a new SCO type
 *   `cryptocurrency-wallet` (address, currency) and a property extension on the report (`onsets`:
 *   each surge's onset and 95 % interval). Neither exists in the core spec.
 * - infrastructure: one per mining pool; indicators: pool endpoints
 *   (`[network-traffic:dst_ref.value = … AND network-traffic:dst_port = …]`) and pool server names
 *   (`[domain-name:value = …]`), each `indicates` its pool.
 * - observed-data + sighting: per pool endpoint reached from the scope, the flows (count, first
 *   and last seen) over ipv4-addr/network-traffic SCOs; the sighting says which indicator, seen by
 *   the producer. Wallets are SCOs related to the hosts that logged in with them.
 * - report: the findings as its description, every object above in object_refs.
 * Ids are UUIDv5 of the content (SCOs by the spec's own rule, §2.9), timestamps the end of the
 * report's period, so the same store exports the same bundle byte for byte.
 */
import type { ExportFindings, PoolEndpoint, WalletFinding } from './findings.js';
import { stixString } from './stix-pattern/parse.js';
import { canonicalJson, COINRADAR_NAMESPACE, STIX_SCO_NAMESPACE, uuidV5 } from './uuid.js';

export type Tlp = 'white' | 'green' | 'amber' | 'red';

/** The TLP 1.0 marking definitions of STIX 2.1 §7.2.1.4 (fixed ids and created time). */
export const TLP_MARKINGS: Record<Tlp, string> = {
  white: 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
  green: 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
  amber: 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
  red: 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
};

/** coinradar's extension definition: fixed, so receivers can recognise it across exports. */
export const WALLET_EXTENSION_ID = `extension-definition--${uuidV5(COINRADAR_NAMESPACE, 'extension-definition|coinradar|1.0.0')}`;
export const WALLET_SCO_TYPE = 'cryptocurrency-wallet';

export interface StixOptions {
  producer?: string;
  tlp?: Tlp;
}

export type StixObject = Record<string, unknown> & { type: string; id: string };

export interface StixBundle {
  type: 'bundle';
  id: string;
  objects: StixObject[];
}

const sdoId = (type: string, key: string) => `${type}--${uuidV5(COINRADAR_NAMESPACE, `${type}|${key}`)}`;
const scoId = (type: string, contributing: Record<string, unknown>) =>
  `${type}--${uuidV5(STIX_SCO_NAMESPACE, canonicalJson(contributing))}`;

const ipType = (ip: string) => (ip.includes(':') ? 'ipv6-addr' : 'ipv4-addr');

/** The indicator pattern of a pool endpoint: its address and server port. */
export function endpointPattern(ip: string, port: number): string {
  return `[network-traffic:dst_ref.type = '${ipType(ip)}' AND network-traffic:dst_ref.value = ${stixString(ip)} AND network-traffic:dst_port = ${port}]`;
}

export function domainPattern(name: string): string {
  return `[domain-name:value = ${stixString(name)}]`;
}

export function buildStixBundle(f: ExportFindings, o: StixOptions = {}): StixBundle {
  const producer = o.producer ?? 'coinradar';
  const tlp = o.tlp ?? 'amber';
  const t = f.asOf;
  const identityId = sdoId('identity', producer);
  const marking = TLP_MARKINGS[tlp];
  const common = (type: string, id: string) => ({
    type,
    spec_version: '2.1',
    id,
    created_by_ref: identityId,
    created: t,
    modified: t,
    object_marking_refs: [marking],
  });
  const sco = (type: string, contributing: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    type,
    spec_version: '2.1',
    id: scoId(type, contributing),
    ...contributing,
    ...extra,
    object_marking_refs: [marking],
  });

  const objects = new Map<string, StixObject>();
  const put = (x: StixObject) => {
    if (!objects.has(x.id)) objects.set(x.id, x);
    return x.id;
  };
  const relate = (source: string, type: string, target: string) =>
    put({
      ...common('relationship', sdoId('relationship', `${source}|${type}|${target}`)),
      relationship_type: type,
      source_ref: source,
      target_ref: target,
    });

  put({
    type: 'identity',
    spec_version: '2.1',
    id: identityId,
    created: t,
    modified: t,
    name: producer,
    identity_class: 'system',
    description: 'coinradar: cryptocurrency activity found in network flows',
    object_marking_refs: [marking],
  });
  put({
    type: 'marking-definition',
    spec_version: '2.1',
    id: marking,
    created: '2017-01-20T00:00:00.000Z',
    definition_type: 'tlp',
    name: `TLP:${tlp.toUpperCase()}`,
    definition: { tlp },
  });
  put({
    ...common('extension-definition', WALLET_EXTENSION_ID),
    created: '2026-12-06T00:00:00.000Z',
    modified: '2026-12-06T00:00:00.000Z',
    name: 'coinradar cryptocurrency wallets and surge onsets',
    description:
      'A new SCO cryptocurrency-wallet (address: the address as seen; currency: its ticker, e.g. BTC, XMR; id contributing property: address) and a property extension on report (onsets: the surges found, each {series, onset, interval_start, interval_end, shape, probability, before, after}).',
    schema:
      'cryptocurrency-wallet: {address: string (required), currency: string}; report extension: {onsets: array of {series: string, onset, interval_start, interval_end: timestamp, shape: string, probability, before, after: number}}',
    version: '1.0.0',
    extension_types: ['new-sco', 'property-extension'],
  });

  // Pools: one infrastructure per pool name, indicators per endpoint and per server name.
  const poolInfra = new Map<string, string>();
  const infraOf = (p: PoolEndpoint) => {
    const name = p.pool || `mining pool at ${p.ip}`;
    let id = poolInfra.get(name);
    if (!id) {
      id = put({
        ...common('infrastructure', sdoId('infrastructure', name)),
        name,
        description: `Cryptocurrency mining pool${p.coin ? ` (${p.coin})` : ''}, from the May 2018 catalogue of Veselý & Žádník.`,
        infrastructure_types: ['unknown'],
        first_seen: p.firstSeen,
      });
      poolInfra.set(name, id);
    }
    return id;
  };
  for (const p of f.pools) {
    const infra = infraOf(p);
    const ind = put({
      ...common('indicator', sdoId('indicator', `${p.ip}:${p.port}`)),
      name: `Mining pool endpoint ${p.ip}:${p.port}${p.pool ? ` (${p.pool})` : ''}`,
      indicator_types: ['anomalous-activity'],
      pattern: endpointPattern(p.ip, p.port),
      pattern_type: 'stix',
      pattern_version: '2.1',
      valid_from: p.firstSeen,
    });
    relate(ind, 'indicates', infra);
    if (p.server) {
      const dom = put({
        ...common('indicator', sdoId('indicator', `domain|${p.server.toLowerCase()}`)),
        name: `Mining pool server ${p.server}`,
        indicator_types: ['anomalous-activity'],
        pattern: domainPattern(p.server.toLowerCase()),
        pattern_type: 'stix',
        pattern_version: '2.1',
        valid_from: p.firstSeen,
      });
      relate(dom, 'indicates', infra);
    }
    const addr = put(sco(ipType(p.ip), { value: p.ip }));
    const traffic = put(sco('network-traffic', { dst_ref: addr, dst_port: p.port, protocols: ['tcp'] }));
    relate(infra, 'consists-of', addr);
    const obs = put({
      ...common('observed-data', sdoId('observed-data', `${f.report.scope}|${p.ip}:${p.port}`)),
      first_observed: p.firstSeen,
      last_observed: p.lastSeen,
      number_observed: Math.max(1, Math.min(999_999_999, p.flows)),
      object_refs: [traffic, addr],
    });
    put({
      ...common('sighting', sdoId('sighting', `${f.report.scope}|${p.ip}:${p.port}`)),
      description: `${p.flows} flows from ${p.hosts} host(s) of the scope (${f.report.scope}) to ${p.ip}:${p.port}`,
      sighting_of_ref: ind,
      count: Math.max(0, Math.min(999_999_999, p.flows)),
      first_seen: p.firstSeen,
      last_seen: p.lastSeen,
      observed_data_refs: [obs],
      where_sighted_refs: [identityId],
    });
  }

  // Hosts of the scope as observed addresses (flows, first and last day seen).
  for (const h of f.report.hosts) {
    const addr = put(sco(ipType(h.host), { value: h.host }));
    put({
      ...common('observed-data', sdoId('observed-data', `${f.report.scope}|host|${h.host}`)),
      first_observed: `${h.firstSeen}T00:00:00.000Z`,
      last_observed: `${h.lastSeen}T23:59:59.999Z`,
      number_observed: Math.max(1, Math.min(999_999_999, h.flows)),
      object_refs: [addr],
    });
  }

  for (const w of f.wallets) walletObjects(w);
  function walletObjects(w: WalletFinding) {
    const id = put(
      sco(
        WALLET_SCO_TYPE,
        { address: w.address },
        {
          ...(w.coin && w.coin !== '?' ? { currency: w.coin } : {}),
          extensions: { [WALLET_EXTENSION_ID]: { extension_type: 'new-sco' } },
        },
      ),
    );
    for (const h of w.hosts) relate(put(sco(ipType(h), { value: h })), 'related-to', id);
  }

  const onsets = f.report.timelines.flatMap((tl) =>
    tl.changes
      .filter((c) => c.kind === 'increase')
      .map((c) => ({
        series: tl.label,
        onset: new Date(c.onsetMs).toISOString(),
        interval_start: new Date(Date.parse(c.onsetInterval[0])).toISOString(),
        interval_end: new Date(Date.parse(c.onsetInterval[1])).toISOString(),
        shape: c.shape,
        probability: c.probability,
        before: c.before,
        after: c.after,
      })),
  );
  const refs = [...objects.keys()].filter((id) => !id.startsWith('marking-definition--'));
  const report = {
    ...common('report', sdoId('report', `${f.report.scope}|${f.report.period.from}`)),
    name: `Cryptocurrency activity: ${f.report.scope}, ${f.report.period.from} – ${f.report.period.to}`,
    description: f.report.findings.join('\n'),
    report_types: ['observed-data', 'indicator'],
    published: t,
    object_refs: refs,
    extensions: { [WALLET_EXTENSION_ID]: { extension_type: 'property-extension', onsets } },
  };
  const all = [...objects.values(), report as StixObject];
  return {
    type: 'bundle',
    id: `bundle--${uuidV5(COINRADAR_NAMESPACE, `bundle|${canonicalJson(all)}`)}`,
    objects: all,
  };
}
