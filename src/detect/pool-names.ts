/**
 * Pool names seen in the clear: a TLS ClientHello's SNI and DNS questions, matched against the
 * pool-domain lists. The name is payload; that it belongs to a pool is what a list says, so the
 * confidence is `infrastructure` and the list version is recorded.
 */
import { isDnsPort, parseDnsQuestion } from './dns.js';
import type { InfrastructureList, InfraEntry } from './infrastructure.js';
import { parseClientHelloSni } from './tls-sni.js';
import { scanWindow, type Detection, type FlowView, type PayloadMatcher } from './types.js';

function entryEvidence(e: InfraEntry): Record<string, unknown> {
  return { list: e.list, entry: e.value, pool: e.name, ...(e.detail ?? {}) };
}

function poolDetection(label: 'pool-tls' | 'pool-dns', host: string, e: InfraEntry, how: string): Detection {
  return {
    label,
    coin: e.coin,
    confidence: 'infrastructure',
    evidence: {
      rule: `${label}.domain-list`,
      detail: `${how} ${host} is listed as ${e.name} (${e.list})`,
      host,
      ...entryEvidence(e),
    },
    artifacts: [{ kind: 'pool', value: host }],
    listVersion: e.listVersion,
  };
}

export function makePoolNameMatcher(list: InfrastructureList): PayloadMatcher {
  return {
    name: 'pool-names',
    labels: ['pool-tls', 'pool-dns'],
    match(flow: FlowView): Detection[] {
      if (flow.proto === 6) {
        for (const side of [flow.payloadFwd, flow.payloadRev]) {
          const b = scanWindow(side);
          if (!b || b[0] !== 0x16) continue;
          const sni = parseClientHelloSni(b);
          if (!sni) continue;
          const hit = list.lookupDomain(sni);
          return hit.length ? [poolDetection('pool-tls', sni, hit[0], 'TLS ClientHello server name')] : [];
        }
      }
      if (isDnsPort(flow.dstPort) || isDnsPort(flow.srcPort)) {
        for (const side of [flow.payloadFwd, flow.payloadRev]) {
          const b = scanWindow(side);
          if (!b) continue;
          const name =
            flow.proto === 17 ? parseDnsQuestion(b) : flow.proto === 6 ? parseDnsQuestion(b, 2) : null;
          if (!name) continue;
          const hit = list.lookupDomain(name);
          return hit.length ? [poolDetection('pool-dns', name, hit[0], 'DNS question')] : [];
        }
      }
      return [];
    },
  };
}
