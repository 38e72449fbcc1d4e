/**
 * Pool names in the clear (TLS SNI, DNS questions) on real packets, with tshark's own dissection
 * as the oracle, and the port hints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { parseClientHelloSni } from '../../src/detect/tls-sni.js';
import { parseDnsQuestion } from '../../src/detect/dns.js';
import { matchPort } from '../../src/detect/ports.js';
import { flowRecord } from './flow-record.js';
import { haveTshark, tsharkFlows } from './tshark-flows.js';

const skip = haveTshark() ? false : 'tshark not installed';
const G0 = 'test/fixtures/pcap/nesfit/cgminer.g0.pcapng';
const S0 = 'test/fixtures/pcap/nesfit/cgminer.s0.pcapng';

function tsharkPairs(path: string, filter: string, fields: string[]): string[][] {
  const args = ['-r', path, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])];
  const r = spawnSync('tshark', args, { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
}

test(
  'DNS questions for pool domains are pool-dns with the list version; names equal tshark dns.qry.name',
  { skip },
  () => {
    const oracle = new Map(
      tsharkPairs(G0, 'dns.flags.response == 0', ['udp.srcport', 'dns.qry.name']).map(([p, n]) => [
        Number(p),
        n,
      ]),
    );
    assert.ok(oracle.size >= 6);
    const detector = createDetector(loadInfrastructure());
    for (const f of tsharkFlows(G0).filter((x) => x.proto === 17 && x.dstPort === 53)) {
      assert.equal(parseDnsQuestion(f.payloadFwd!), oracle.get(f.srcPort));
      const [d] = detectFlow(detector, f);
      assert.equal(d.label, 'pool-dns');
      assert.equal(d.confidence, 'infrastructure');
      assert.equal(d.coin, 'LTC');
      assert.equal(d.listVersion, 'mining-servers-2018-05@2018-05-13');
      assert.deepEqual(d.artifacts, [{ kind: 'pool', value: oracle.get(f.srcPort) }]);
    }
  },
);

test(
  'TLS SNI equals tshark tls.handshake.extensions_server_name; a listed name makes pool-tls, others nothing',
  { skip },
  () => {
    const oracle = tsharkPairs(S0, 'tls.handshake.extensions_server_name', [
      'tcp.srcport',
      'tls.handshake.extensions_server_name',
    ]);
    assert.ok(oracle.length >= 1);
    const flows = tsharkFlows(S0);
    const dir = mkdtempSync(join(tmpdir(), 'cr-sni-'));
    try {
      for (const [port, name] of oracle) {
        const f = flows.find((x) => x.srcPort === Number(port))!;
        assert.equal(parseClientHelloSni(f.payloadFwd!), name);
        // Not a pool in the default lists: no detection beyond a port hint.
        assert.deepEqual(
          detectFlow(createDetector(loadInfrastructure()), f).filter((d) => d.confidence !== 'port'),
          [],
        );
        // Listed by a user (parent domain): pool-tls with that list's version.
        const list = join(dir, 'pools.csv');
        writeFileSync(
          list,
          `# version: test-1\nvalue,label,coin,port,name\n${name.split('.').slice(-3).join('.')},pool-tls,XMR,,test pool\n`,
        );
        const [d] = detectFlow(createDetector(loadInfrastructure([list])), f);
        assert.equal(d.label, 'pool-tls');
        assert.equal(d.confidence, 'infrastructure');
        assert.equal(d.listVersion, 'pools.csv@test-1');
        assert.equal(d.evidence.host, name);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('port hints: both ports looked at, the server side named; never stronger than port', () => {
  assert.equal(matchPort(6, 50000, 8333)?.coin, 'BTC');
  assert.equal(matchPort(6, 50000, 8333)?.evidence.server, 'destination');
  assert.equal(matchPort(6, 18080, 50000)?.evidence.port, 18080);
  assert.equal(matchPort(6, 18080, 50000)?.evidence.server, 'source');
  // A listed source port facing a lower random port (discv4 answering from 30303) is still the server.
  assert.equal(matchPort(17, 30303, 20182)?.evidence.server, 'source');
  assert.equal(matchPort(17, 30303, 30303)?.evidence.server, 'both');
  // A client whose ephemeral port happens to be listed, calling a system service, is no hint.
  assert.equal(matchPort(6, 3333, 443), null);
  assert.equal(matchPort(6, 50000, 443), null);
  assert.equal(matchPort(17, 50000, 8333), null);
  const d = matchPort(6, 40000, 3333)!;
  assert.equal(d.label, 'crypto-port');
  assert.equal(d.confidence, 'port');
  assert.equal(d.coin, '');
  // A payload detection on the flow suppresses the port hint.
  const detector = createDetector(null);
  const stratumLine = Buffer.from('{"id":1,"method":"mining.subscribe","params":["cgminer/4.10.0"]}\n');
  const base = flowRecord({ packets: 1, bytes: 100, source: '' });
  assert.deepEqual(
    detectFlow(detector, { ...base, payloadFwd: stratumLine }).map((x) => x.label),
    ['stratum'],
  );
  assert.deepEqual(
    detectFlow(detector, { ...base, payloadFwd: null }).map((x) => x.label),
    ['crypto-port'],
  );
});
