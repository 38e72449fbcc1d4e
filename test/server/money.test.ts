// The money API the console's wallet page uses (issue 11), on the litecoind regtest history of
// test/chain: an address's cluster is what `coinradar chain cluster` gives; one hop of a trace is
// what `coinradar chain trace --hops 1` gives (with the listed address tagged `sanctioned`, and
// the CoinJoin-like transaction labelled); exposure is `coinradar chain exposure` with the list's
// addresses as a `sanctioned` tag file. Same key check as every route; in the OpenAPI document.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer } from '../../src/cli/serve.js';
import { ApiKeyFile, keysPathFor } from '../../src/server/keys.js';
import { oneAtATime } from '../../src/server/network.js';
import { litecoindMissing } from '../chain/regtest-node.js';
import { regtestChainStore } from './regtest-chain.js';
import { runCli } from '../cli-run.js';

const sortBy = <T>(xs: T[], k: (x: T) => string) => [...xs].sort((x, y) => k(x).localeCompare(k(y)));

test('litecoind regtest: /v1/chain/address, /v1/chain/trace (one hop) and /v1/chain/exposure answer what coinradar chain cluster, trace and exposure give', async (t) => {
  const missing = litecoindMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cr-money-'));
  const db = join(dir, 'db.duckdb');
  const truth = await regtestChainStore(dir, db);
  try {
    const tagCsv = join(dir, 'tags.csv');
    writeFileSync(tagCsv, `address,tag\n${truth.a[0]},sanctioned\n`);
    const cli = async (args: string[]) =>
      JSON.parse((await runCli(['chain', ...args, '--db', db, '--format', 'json'])).out);
    const cluster = await cli(['cluster', truth.a[1]]);
    const traced = await cli(['trace', truth.a[0], '--hops', '1', '--tags', tagCsv]);
    const mixed = await cli(['trace', truth.txs.coinjoin, '--hops', '1', '--direction', 'backward']);
    const exposed = await cli(['exposure', truth.b[0], '--hops', '2', '--tags', tagCsv]);
    assert.ok(
      exposed.exposure.some((r: { tag: string }) => r.tag === 'sanctioned'),
      'b1 has funds from a1',
    );

    const { key } = new ApiKeyFile(keysPathFor(db)).create('money test');
    const auth = { 'x-api-key': key };
    const server = await openScreeningServer({ db, chainHops: 2, audit: join(dir, 'audit.jsonl') });
    try {
      const { app } = server;
      const get = async (url: string, status = 200) => {
        const r = await app.inject({ method: 'GET', url, headers: auth });
        assert.equal(r.statusCode, status, `${url}: ${r.body}`);
        return r.json();
      };

      // The cluster: chain cluster's members, size and heuristics; the listed member says so.
      const a = await get(`/v1/chain/address/${truth.a[1]}`);
      assert.equal(a.address.address, truth.a[1]);
      assert.equal(a.cluster.id, cluster.cluster_id);
      assert.equal(a.cluster.size, cluster.size);
      assert.deepEqual(a.cluster.heuristics, cluster.heuristics);
      assert.deepEqual(
        a.cluster.members.map((m: { address: string }) => m.address).sort(),
        [...cluster.addresses].sort(),
      );
      assert.ok(a.cluster.size >= 3, 'alice spent a1+a2+a3 together');
      assert.deepEqual(
        a.cluster.members
          .filter((m: { listed: boolean }) => m.listed)
          .map((m: { address: string }) => m.address),
        [truth.a[0]],
      );
      assert.equal(a.listed, false);

      // One hop of the trace: the command's graph (its tags file naming a1 as the list does).
      const tr = await get(`/v1/chain/trace?seed=${truth.a[0]}&hops=1`);
      assert.deepEqual(
        sortBy(tr.edges, (e: { from: string; to: string }) => e.from + e.to),
        sortBy(traced.edges, (e: { from: string; to: string }) => e.from + e.to),
      );
      assert.deepEqual(
        sortBy(tr.nodes, (n: { id: string }) => n.id),
        sortBy(traced.nodes, (n: { id: string }) => n.id),
      );
      assert.ok(
        tr.nodes.some(
          (n: { label: string; tags: string[] }) => n.label === truth.a[0] && n.tags.includes('sanctioned'),
        ),
      );
      assert.ok(tr.edges.length > 0 && tr.edges.every((e: { hop: number }) => e.hop === 1));
      // Expanding a node is the next call: from the transaction's txid, one more hop.
      const txNode = tr.nodes.find((n: { kind: string }) => n.kind === 'transaction');
      assert.equal(txNode.label, truth.txs.alice_spend);
      const next = await get(`/v1/chain/trace?seed=${txNode.label}&hops=1`);
      assert.ok(
        next.nodes.some((n: { label: string }) => n.label === truth.b[0]),
        'alice paid bob',
      );
      // The CoinJoin-like transaction is labelled, backward as the command gives it.
      const mix = await get(`/v1/chain/trace?seed=${truth.txs.coinjoin}&hops=1&direction=backward`);
      assert.deepEqual(
        sortBy(mix.edges, (e: { from: string; to: string }) => e.from + e.to),
        sortBy(mixed.edges, (e: { from: string; to: string }) => e.from + e.to),
      );
      assert.ok(mix.nodes.some((n: { tags: string[] }) => n.tags.includes('coinjoin-like')));

      // Exposure: the command's, with the list's address tagged sanctioned.
      assert.deepEqual(await get(`/v1/chain/exposure/${truth.b[0]}?hops=2`), exposed);

      // The money routes do not wait for the network routes: with the network routes' queue held
      // (a slow flow query), a wallet page still answers.
      let release = () => {};
      const held = oneAtATime(() => new Promise<void>((r) => (release = r)));
      try {
        const answered = await Promise.race([
          get(`/v1/chain/address/${truth.a[1]}`).then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), 20_000).unref()),
        ]);
        assert.ok(answered, 'a money route answered while the network queue was held');
      } finally {
        release();
        await held;
      }

      // Unknown, malformed, unauthenticated.
      await get('/v1/chain/address/rltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kyq3l2s', 404);
      await get(`/v1/chain/trace?seed=${'0'.repeat(64)}`, 404);
      await get(`/v1/chain/trace?seed=${truth.a[0]}&hops=99`, 400);
      await get(`/v1/chain/exposure/${truth.b[0]}?hops=x`, 400);
      for (const url of [
        `/v1/chain/address/${truth.a[0]}`,
        `/v1/chain/trace?seed=${truth.a[0]}`,
        `/v1/chain/exposure/${truth.a[0]}`,
      ])
        assert.equal((await app.inject({ method: 'GET', url })).statusCode, 401, url);
      const doc = await get('/openapi.json');
      for (const p of ['/v1/chain/address/{address}', '/v1/chain/trace', '/v1/chain/exposure/{address}'])
        assert.ok(doc.paths[p], p);
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
