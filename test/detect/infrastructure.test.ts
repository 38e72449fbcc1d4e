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

test('networks shorter than /16 and addresses near their edges: the first-16-bit filter never hides a listed network', () => {
  // The filter answers "nothing listed" from an address's first 16 bits; a network of fewer bits
  // covers many such values, one of more bits a single one. Every answer is checked against the
  // entries' own definition (the address masked to the entry's length equals the entry's network).
  const list = new InfrastructureList();
  const base = { label: 'pool-endpoint' as const, coin: '', list: 't', listVersion: 't@1', port: 0 };
  const nets4: [string, number][] = [
    ['10.0.0.0', 8],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
    ['100.64.0.0', 10],
    ['203.0.113.0', 24],
    ['198.51.100.7', 32],
    ['128.0.0.0', 1],
  ];
  for (const [a, bits] of nets4) list.add({ ...base, value: `${a}/${bits}`, name: `${a}/${bits}` });
  list.add({ ...base, value: '2001:db8::/32', name: '2001:db8::/32' });
  list.add({ ...base, value: 'fc00::/7', name: 'fc00::/7' });
  const word = (a: string) => a.split('.').reduce((w, x) => w * 256 + Number(x), 0);
  const within = (ip: number, net: string, bits: number) =>
    bits === 0 || Math.floor(ip / 2 ** (32 - bits)) === Math.floor(word(net) / 2 ** (32 - bits));
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 ** 32;
  const probes = [
    ...nets4.flatMap(([a, bits]) => {
      const lo = word(a) - (word(a) % 2 ** (32 - bits));
      return [lo, lo + 2 ** (32 - bits) - 1, lo - 1, lo + 2 ** (32 - bits)].filter(
        (x) => x >= 0 && x < 2 ** 32,
      );
    }),
    ...Array.from({ length: 20000 }, () => Math.floor(rnd())),
  ];
  let hits = 0;
  for (const ip of probes) {
    const text = [24, 16, 8, 0].map((s) => Math.floor(ip / 2 ** s) % 256).join('.');
    const got = list
      .lookupIpText(text, 80)
      .map((e) => e.name)
      .sort();
    const want = nets4
      .filter(([a, bits]) => within(ip, a, bits))
      .map(([a, bits]) => `${a}/${bits}`)
      .sort();
    assert.deepEqual(got, want, text);
    hits += got.length > 0 ? 1 : 0;
  }
  assert.ok(hits > 10000, `${hits} probes inside a listed network`); // 128.0.0.0/1 holds half of them
  assert.deepEqual(
    list.lookupIpText('fd12:3456::1', 80).map((e) => e.name),
    ['fc00::/7'],
  );
  assert.deepEqual(list.lookupIpText('fe00::1', 80), []);
  assert.deepEqual(
    list.lookupIpText('2001:db8:ffff::1', 80).map((e) => e.name),
    ['2001:db8::/32'],
  );
  assert.deepEqual(list.lookupIpText('2001:db9::1', 80), []);
});
