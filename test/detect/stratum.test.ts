/**
 * Stratum dialects line by line. The real sessions are in captures.test.ts; these lines follow the
 * published formats for the variants the fixtures do not contain (NiceHash EthereumStratum/1.0.0,
 * XMRig's login with rigid, set_difficulty, keepalived).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchStratum, parseStratumLine } from '../../src/detect/stratum.js';
import { addressCoin, splitLogin } from '../../src/detect/coins.js';

function flow(fwd: string, rev = '') {
  return {
    proto: 6,
    srcPort: 50000,
    dstPort: 3333,
    payloadFwd: Buffer.from(fwd),
    payloadRev: rev ? Buffer.from(rev) : null,
  };
}

test('NiceHash EthereumStratum/1.0.0 subscribe is the Ethereum dialect', () => {
  const m = parseStratumLine(
    '{"id":1,"method":"mining.subscribe","params":["ethminer/0.19.0","EthereumStratum/1.0.0"]}',
  );
  assert.equal(m?.dialect, 'ethereum');
  const [d] = matchStratum(
    flow(
      '{"id":1,"method":"mining.subscribe","params":["ethminer/0.19.0","EthereumStratum/1.0.0"]}\n{"id":2,"method":"mining.authorize","params":["0x52bc44d5378309ee2abf1539bf71de1b7d7be3b5.rig1","x"]}\n',
      '{"id":1,"result":[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f","EthereumStratum/1.0.0"],"080c"],"error":null}\n{"id":null,"method":"mining.set_difficulty","params":[0.5]}\n',
    ),
  );
  assert.equal(d.evidence.dialect, 'ethereum');
  assert.equal(d.coin, 'ETH');
  assert.equal(d.evidence.difficulty, 0.5);
  assert.deepEqual(d.artifacts, [
    { kind: 'agent', value: 'ethminer/0.19.0' },
    { kind: 'wallet', value: '0x52bc44d5378309ee2abf1539bf71de1b7d7be3b5' },
    { kind: 'worker', value: 'rig1' },
  ]);
});

test('XMRig login: wallet, rig id, agent; keepalived and submit count; the password as rig when not a placeholder', () => {
  const login =
    '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A","pass":"rig-07","agent":"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0","rigid":"farm-a","algo":["rx/0"]}}';
  const submit =
    '{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"1","job_id":"5","nonce":"a1b2c3d4","result":"00"}}';
  const keep = '{"id":3,"jsonrpc":"2.0","method":"keepalived","params":{"id":"1"}}';
  const [d] = matchStratum(flow(`${login}\n${submit}\n${keep}\n`));
  assert.equal(d.evidence.dialect, 'cryptonote');
  assert.equal(d.coin, 'XMR');
  assert.equal(d.evidence.shares, 1);
  assert.deepEqual(d.evidence.methods, ['login', 'submit', 'keepalived']);
  assert.deepEqual(
    d.artifacts.map((a) => a.kind),
    ['wallet', 'rig', 'agent', 'rig'],
  );
  assert.equal(
    d.artifacts.find((a) => a.kind === 'agent')?.value,
    'XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0',
  );
});

test('generic words without the shapes are not Stratum', () => {
  assert.equal(parseStratumLine('{"id":1,"method":"login","params":["alice","secret"]}'), null);
  assert.equal(parseStratumLine('{"id":1,"method":"submit","params":{"form":"contact"}}'), null);
  assert.equal(parseStratumLine('{"id":1,"method":"job","params":{"name":"backup"}}'), null);
  assert.deepEqual(
    matchStratum(flow('{"jsonrpc":"2.0","method":"echo","params":["Testing!"],"id":"x"}\n')),
    [],
  );
});

test('logins split into wallet, worker, account; address shapes name coins', () => {
  assert.deepEqual(splitLogin('slush.worker1'), {
    wallet: '',
    coin: '',
    account: 'slush',
    worker: 'worker1',
    email: '',
  });
  assert.equal(splitLogin('t1fAhZF5aUJdY7CikGULHmeYk7id8qmvbAd.rig4').coin, 'ZEC');
  assert.equal(addressCoin('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa'), 'BTC');
  assert.equal(addressCoin('bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq'), 'BTC');
  assert.equal(addressCoin('LZ8CQXp7Qx7kZv3NnL3CnPMzGmtDDanvwb'), 'LTC');
  assert.equal(addressCoin('DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L'), 'DOGE');
  assert.equal(addressCoin('hello-world-this-is-not-an-address'), '');
});
