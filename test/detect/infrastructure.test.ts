/** Infrastructure lists: the shipped catalogue, CIDRs of both families, domains and their parents. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InfrastructureList, loadInfrastructure } from '../../src/detect/infrastructure.js';

test('the 2018 catalogue: endpoints by IP and port, with pool, coins, protocols and verification', () => {
  const list = loadInfrastructure();
  assert.deepEqual(list.versions, ['mining-servers-2018-05@2018-05-13', 'pool-domains@2026-11-21']);
  // Catalogue line: Flypool,...,eu1-zcash.flypool.org,94.23.199.191,3333,stratum,ZEC,1,...
  const [e] = list.lookupIpText('94.23.199.191', 3333);
  assert.equal(e.name, 'Flypool');
  assert.equal(e.coin, 'ZEC');
  assert.equal(e.label, 'stratum');
  assert.deepEqual(e.detail, {
    server: 'eu1-zcash.flypool.org',
    protocols: ['getblocktemplate', 'stratum'],
    verified: ['stratum'],
  });
  // Same address, a port the catalogue does not list: not a hit.
  assert.deepEqual(list.lookupIpText('94.23.199.191', 443), []);
  // Server names are domain entries too; parents of a server name are not.
  assert.equal(list.lookupDomain('eu1-zcash.flypool.org')[0].list, 'mining-servers-2018-05');
  assert.equal(list.lookupDomain('x.us2.litecoinpool.org').length > 0, true);
  assert.equal(list.lookupDomain('EU1.Nanopool.org.')[0].name, 'nanopool');
  assert.deepEqual(list.lookupDomain('org'), []);
  assert.deepEqual(list.lookupDomain('example.com'), []);
});

test('CIDRs (IPv4 and IPv6), single hosts and ports; most specific first', () => {
  const list = new InfrastructureList();
  const base = { label: 'pool-endpoint' as const, coin: '', list: 't', listVersion: 't@1' };
  list.add({ ...base, value: '175.45.176.0/22', port: 0, name: 'block' });
  list.add({ ...base, value: '175.45.178.1', port: 3333, name: 'host' });
  list.add({ ...base, value: '2001:db8::/32', port: 0, name: 'v6 block' });
  list.add({ ...base, value: '2001:db8:1::5', port: 0, name: 'v6 host' });
  assert.deepEqual(
    list.lookupIpText('175.45.178.1', 3333).map((e) => e.name),
    ['host', 'block'],
  );
  assert.deepEqual(
    list.lookupIpText('175.45.178.1', 80).map((e) => e.name),
    ['block'],
  );
  assert.deepEqual(list.lookupIpText('175.45.180.1', 80), []);
  assert.deepEqual(
    list.lookupIpText('2001:db8:1::5', 1).map((e) => e.name),
    ['v6 host', 'v6 block'],
  );
  assert.deepEqual(list.lookupIpText('2001:db9::1', 1), []);
  assert.throws(() => list.add({ ...base, value: '10.0.0.0/33', port: 0, name: 'bad' }), /prefix length/);
});
