/**
 * getwork / getblocktemplate logins: in the URL (`/?miner=30@0x…@RigName`, `?login=…&worker=…`,
 * `/0xWALLET/RIG`, `/WALLET.WORKER`, `/user.worker`) and as the HTTP Basic-auth user (`user.worker`,
 * `WALLET.WORKER`) → wallet, account and worker artifacts as Stratum logins give them; the wallet's
 * coin is protocol evidence (coin-rule.ts). Basic-auth passwords are never recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { urlLoginArtifacts } from '../../src/detect/http-rpc.js';
import type { Artifact } from '../../src/detect/types.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/flow/record.js';
import { flowRecord } from './flow-record.js';
import { haveTshark, tsharkFlows } from './tshark-flows.js';

const detector = createDetector(null);
const ETH = '0x9c99d212f7e5daa18ab50810e0fd255d1f04303b';
const BTC = '1BoatSLRHtKNngkdXEeobR76b53LETtpyT';
const XMR = '47mr7jYTroxQMwdKoPQuJoc9Vs9S9qCUAL6Ek4qyNFWJdqgBZRn4RYY2QjQfqEMJZVWPscupSgaqmUn1dpdUTC4fQsu3yjN';

function getwork(path: string, headers: string[] = [], method = 'eth_getWork') {
  const body = `{"jsonrpc":"2.0","method":"${method}","params":[],"id":73}`;
  const req = [
    `POST ${path} HTTP/1.1`,
    'Host: eth-eu1.nanopool.org:8888',
    'User-Agent: Go-http-client/1.1',
    ...headers,
    `Content-Length: ${body.length}`,
    '',
    body,
  ].join('\r\n');
  const [d] = detectFlow(
    detector,
    flowRecord({
      dstPort: 8888,
      tcpFlags: TCP_SYN | TCP_ACK | TCP_PSH,
      packets: 4,
      bytes: 500,
      payloadFwd: Buffer.from(req),
    }),
  );
  assert.equal(d.label, 'getblocktemplate');
  return d;
}

const arts = (a: Artifact[], kinds = ['wallet', 'account', 'worker']) =>
  a
    .filter((x) => kinds.includes(x.kind))
    .map((x) => `${x.kind}=${x.value}`)
    .sort();

test('URL logins: miner=difficulty@wallet@worker, query keys, path forms', () => {
  const d = getwork(`/?miner=30@${ETH}@RigName`);
  assert.deepEqual(arts(d.artifacts), [`wallet=${ETH}`, 'worker=RigName']);
  assert.equal(d.coin, 'ETH');
  assert.equal(d.evidence.coinFrom, 'wallet');
  assert.deepEqual(arts(getwork(`/?miner=${ETH}@rig7`).artifacts), [`wallet=${ETH}`, 'worker=rig7']);
  assert.deepEqual(arts(getwork(`/?login=${BTC}&worker=w1&pass=secret`, [], 'getwork').artifacts), [
    `wallet=${BTC}`,
    'worker=w1',
  ]);
  assert.deepEqual(arts(getwork(`/${ETH}/rig1`).artifacts), [`wallet=${ETH}`, 'worker=rig1']);
  assert.deepEqual(arts(getwork(`/${ETH}.rig2`).artifacts), [`wallet=${ETH}`, 'worker=rig2']);
  assert.deepEqual(arts(getwork('/alice.farm1', [], 'getblocktemplate').artifacts), [
    'account=alice',
    'worker=farm1',
  ]);
  // Percent-encoded, and a broken escape is taken as it is, never thrown on.
  assert.deepEqual(arts(getwork(`/?miner=30%40${ETH}%40Rig%20A`).artifacts), [
    `wallet=${ETH}`,
    'worker=Rig A',
  ]);
  assert.doesNotThrow(() => getwork('/?miner=%E0%A4%A'));
  // Paths that are not logins: the root, a script, a Bitcoin Core wallet endpoint's plain name.
  for (const p of ['/', '/getwork.php', '/index.html', '/wallet/main', '/?id=7'])
    assert.deepEqual(arts(getwork(p, [], 'getblocktemplate').artifacts), [], p);
});

test('Basic-auth users split like Stratum logins; the password is never recorded', () => {
  const auth = (u: string) => `Authorization: Basic ${Buffer.from(u).toString('base64')}`;
  const a = getwork('/', [auth('alice.rig3:hunter2')], 'getwork');
  assert.deepEqual(arts(a.artifacts), ['account=alice', 'worker=rig3']);
  assert.ok(!JSON.stringify(a).includes('hunter2'));
  const w = getwork('/', [auth(`${XMR}.rig4:x`)], 'getblocktemplate');
  assert.deepEqual(arts(w.artifacts), [`wallet=${XMR}`, 'worker=rig4']);
  // The wallet names the coin over the agent and the port (coin-rule.ts).
  assert.equal(w.coin, 'XMR');
  assert.equal(w.evidence.coinFrom, 'wallet');
});

test('urlLoginArtifacts is bounded and never throws on odd paths', () => {
  for (const p of [
    '',
    '?',
    '/?=',
    '/?miner=',
    '//',
    `/?miner=${'@'.repeat(5000)}`,
    `/${'a.b/'.repeat(2000)}`,
  ]) {
    const out: Artifact[] = [];
    assert.doesNotThrow(() => urlLoginArtifacts(out, p));
    assert.ok(out.length <= 4 && out.every((x) => x.value.length <= 256), p.slice(0, 20));
  }
});

test(
  "the study's cgminer getwork capture: the Basic-auth user is still the account, no password",
  { skip: haveTshark() ? false : 'tshark not installed' },
  () => {
    const seen = new Set<string>();
    for (const f of tsharkFlows('test/fixtures/pcap/nesfit/cgminer.g0.pcapng'))
      for (const d of detectFlow(detector, f))
        if (d.label === 'getblocktemplate') for (const x of arts(d.artifacts)) seen.add(x);
    // Copied from the packets (tshark -Y http.authorization: Basic "Bitcoin:x" on URI /): the user has no worker part.
    assert.deepEqual([...seen], ['account=Bitcoin']);
  },
);
