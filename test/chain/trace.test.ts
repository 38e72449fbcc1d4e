// chain trace options (--since/--until as dates, heights and UNIX seconds; --min-value; --hops) on a
// small synthetic chain written as a real blk file, where every edge is known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressText } from '../../src/chain/address.js';
import { ingestChain } from '../../src/chain/ingest.js';
import { NETWORKS } from '../../src/chain/network.js';
import { ScriptType } from '../../src/chain/script.js';
import {
  blkRecord,
  blockHash,
  buildBlock,
  coinbaseTx,
  legacyTxid,
  p2wpkhScript,
  serializeTx,
} from '../../src/chain/synthetic.js';
import { parseTimeBound, trace, type TraceOptions } from '../../src/chain/trace.js';
import { hashHex } from '../../src/chain/hash.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { DuckDbChainStore } from '../../src/store/duckdb/chain.js';

const net = NETWORKS.regtest;
const hash20 = (k: number) => Buffer.alloc(20, k);
const addr = (k: number) => addressText(ScriptType.P2WPKH, hash20(k), net);
const [A, B, C, D, E, F, G, H] = [1, 2, 3, 4, 5, 6, 7, 8].map(addr);
const pay = (k: number, value: number) => ({ value, script: p2wpkhScript(hash20(k)) });
const at = (iso: string) => Date.parse(iso) / 1000;

/**
 * h0 2017-05-01: coinbase → A 50
 * h1 2017-05-10 12:00: tx1 A → B 30, C 19.9999
 * h2 2017-05-17 12:00: tx2 B → D 10, E 19.9999
 * h3 2017-05-20 12:00: tx3 D → F 9.9999
 * h4 2017-06-01 12:00: tx4 E → G 5, H 14.9998
 */
function history(): { blk: Buffer; txid: Record<string, string> } {
  const cb0 = coinbaseTx(0, [pay(1, 50e8)]);
  const tx1 = serializeTx([{ prevTxid: legacyTxid(cb0), vout: 0 }], [pay(2, 30e8), pay(3, 19.9999e8)]);
  const tx2 = serializeTx([{ prevTxid: legacyTxid(tx1), vout: 0 }], [pay(4, 10e8), pay(5, 19.9999e8)]);
  const tx3 = serializeTx([{ prevTxid: legacyTxid(tx2), vout: 0 }], [pay(6, 9.9999e8)]);
  const tx4 = serializeTx([{ prevTxid: legacyTxid(tx2), vout: 1 }], [pay(7, 5e8), pay(8, 14.9998e8)]);
  const days = [
    '2017-05-01T00:00:00Z',
    '2017-05-10T12:00:00Z',
    '2017-05-17T12:00:00Z',
    '2017-05-20T12:00:00Z',
    '2017-06-01T12:00:00Z',
  ];
  const txs = [[cb0], [tx1], [tx2], [tx3], [tx4]];
  let prev: Buffer = Buffer.alloc(32);
  const records: Buffer[] = [];
  days.forEach((d, h) => {
    // Blocks 1-4 pay their coinbase to a miner outside the story (address 26).
    const body = h === 0 ? txs[0] : [coinbaseTx(h, [pay(26, 50e8)]), ...txs[h]];
    const b = buildBlock(prev, body, at(d));
    records.push(blkRecord(net.magic, b));
    prev = blockHash(b);
  });
  const txid = Object.fromEntries(
    Object.entries({ tx1, tx2, tx3, tx4 }).map(([k, t]) => [k, hashHex(legacyTxid(t))]),
  );
  return { blk: Buffer.concat(records), txid };
}

type Edge = [hop: number, from: string, to: string, value: number, tainted: number];

async function withIndex(
  fn: (store: DuckDbChainStore, txid: Record<string, string>, dir: string) => Promise<void>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'cr-trace-'));
  const store = await DuckDbChainStore.open(':memory:');
  try {
    const { blk, txid } = history();
    mkdirSync(join(dir, 'blocks'));
    writeFileSync(join(dir, 'blocks', 'blk00000.dat'), blk);
    const diag = new Diagnostics();
    const r = await ingestChain(store, net, { kind: 'blocks-dir', path: join(dir, 'blocks') }, diag);
    assert.equal(r.tipHeight, 4);
    assert.equal(diag.get('problems'), 0, diag.summary());
    await fn(store, txid, dir);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function edges(store: DuckDbChainStore, seed: string, opts: Partial<TraceOptions>): Promise<Edge[]> {
  const txId = /^[0-9a-f]{64}$/.test(seed) ? await store.txIdOf(seed) : null;
  const g = await trace(
    store,
    txId !== null
      ? { kind: 'tx', txId, label: seed }
      : { kind: 'address', addressIds: [(await store.addressIdOf(seed))!], label: seed },
    { direction: 'forward', hops: 3, level: 'address', policy: 'haircut', ...opts },
  );
  const label = new Map(g.nodes.map((n) => [n.id, n.label]));
  return g.edges.map((e) => [e.hop, label.get(e.from)!, label.get(e.to)!, e.value, e.tainted]);
}

test('parseTimeBound: ISO dates and date-times, heights below 500,000,000, UNIX seconds above; junk refused', () => {
  assert.deepEqual(parseTimeBound('2017-05-17'), { time: at('2017-05-17T00:00:00Z') });
  assert.deepEqual(parseTimeBound('2017-05-17', true), { time: at('2017-05-17T23:59:59Z') });
  assert.deepEqual(parseTimeBound('2017-05-17T12:30', true), { time: at('2017-05-17T12:30:00Z') });
  assert.deepEqual(parseTimeBound('2017-05-17 12:30:15Z'), { time: at('2017-05-17T12:30:15Z') });
  assert.deepEqual(parseTimeBound('2017-05-17T14:30:00+02:00'), { time: at('2017-05-17T12:30:00Z') });
  assert.deepEqual(parseTimeBound('470000'), { height: 470000 });
  assert.deepEqual(parseTimeBound('0'), { height: 0 });
  assert.deepEqual(parseTimeBound('499999999'), { height: 499999999 });
  assert.deepEqual(parseTimeBound('500000000'), { time: 500000000 });
  assert.deepEqual(parseTimeBound('1495022400'), { time: 1495022400 });
  for (const bad of [
    'yesterday',
    '2017-13-01',
    '2017-02-29',
    '2017-05-17T25:00',
    '17/05/2017',
    '-5',
    '12.5',
    '',
  ])
    assert.throws(() => parseTimeBound(bad), /is not an ISO date, a block height or UNIX seconds/, bad);
});

test('trace: --hops, --min-value and a --since/--until window by date, height and UNIX seconds', async () => {
  await withIndex(async (store, txid) => {
    const [t1, t2, t3, t4] = [txid.tx1, txid.tx2, txid.tx3, txid.tx4];
    // Each input is wholly tainted, so haircut passes every output in full: tainted = value.
    const e = (hop: number, from: string, to: string, value: number): Edge => [hop, from, to, value, value];
    const hop1 = [e(1, A, t1, 50e8), e(1, t1, B, 30e8), e(1, t1, C, 19.9999e8)];
    const hop2 = [e(2, B, t2, 30e8), e(2, t2, D, 10e8), e(2, t2, E, 19.9999e8)];
    const tx3 = [e(3, D, t3, 10e8), e(3, t3, F, 9.9999e8)];
    const tx4 = [e(3, E, t4, 19.9999e8), e(3, t4, G, 5e8), e(3, t4, H, 14.9998e8)];
    const hop3 = [...tx3, ...tx4];
    /** The same edges seen from a seed nearer to them. */
    const atHop = (hop: number, list: Edge[]): Edge[] => list.map(([, ...rest]) => [hop, ...rest]);
    assert.deepEqual(await edges(store, A, {}), [...hop1, ...hop2, ...hop3]);
    assert.deepEqual(await edges(store, A, { hops: 1 }), hop1);
    assert.deepEqual(await edges(store, A, { hops: 2 }), [...hop1, ...hop2]);
    assert.deepEqual(await edges(store, A, { hops: 0 }), []);

    // --min-value 10 coins: F (9.9999) and G (5) fall below; D (exactly 10) stays.
    assert.deepEqual(await edges(store, A, { minValue: 10e8 }), [
      ...hop1,
      ...hop2,
      hop3[0],
      hop3[2],
      hop3[4],
    ]);
    // One satoshi more: D's 10 coins are dropped at hop 2, so tx3 is never reached.
    assert.deepEqual(await edges(store, A, { minValue: 10e8 + 1 }), [
      ...hop1,
      hop2[0],
      hop2[2],
      hop3[2],
      hop3[4],
    ]);

    // --until the 17th (a bare date: to the end of that day), height 2, or tx2's exact block time.
    for (const until of [
      parseTimeBound('2017-05-17', true),
      { height: 2 },
      { time: at('2017-05-17T12:00:00Z') },
    ])
      assert.deepEqual(await edges(store, A, { until }), [...hop1, ...hop2], JSON.stringify(until));
    // One second earlier tx2 is outside.
    assert.deepEqual(await edges(store, A, { until: { time: at('2017-05-17T11:59:59Z') } }), hop1);
    // An address seed's own receipts are in the window too: A was paid on 1 May.
    assert.deepEqual(await edges(store, A, { since: parseTimeBound('2017-05-02') }), []);

    // --since from tx2: its outputs (the seed), then only what was spent from the 25th (tx4).
    const seed = atHop(1, hop2.slice(1));
    for (const since of [parseTimeBound('2017-05-25'), { height: 4 }])
      assert.deepEqual(await edges(store, t2, { since }), [...seed, ...atHop(2, tx4)], JSON.stringify(since));
    // The bound is inclusive, with a zone offset: 14:00+02:00 is tx3's block time.
    assert.deepEqual(await edges(store, t2, { since: parseTimeBound('2017-05-20T14:00:00+02:00') }), [
      ...seed,
      ...atHop(2, hop3),
    ]);
    // Both bounds: only tx3 (20 May) lies between the 18th and the 25th.
    assert.deepEqual(
      await edges(store, t2, {
        since: parseTimeBound('2017-05-18'),
        until: parseTimeBound('2017-05-25', true),
      }),
      [...seed, ...atHop(2, tx3)],
    );

    // Backward from H: tx4 (1 June) is in the window from the 25th; tx2 (17 May) that funded E is not.
    const back = await edges(store, H, {
      direction: 'backward',
      hops: 3,
      since: parseTimeBound('2017-05-25'),
    });
    const share = 14.9998e8 / 19.9998e8;
    assert.deepEqual(
      back.map(([hop, from, to, value]) => [hop, from, to, value]),
      [
        [1, t4, H, 14.9998e8],
        [1, E, t4, 19.9999e8],
      ],
    );
    assert.ok(Math.abs(back[1][4] - 19.9999e8 * share) < 1e-3);
    assert.equal(
      (await edges(store, H, { direction: 'backward', hops: 3 })).filter((e) => e[0] === 2).length,
      2,
    );
  });
});

test('chain trace CLI: --since/--until as height and date, --hops, --min-value; bad values are errors', async () => {
  await withIndex(async (_store, txid, dir) => {
    const run = (args: string[]) =>
      execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    const db = join(dir, 'db.duckdb');
    run(['chain', 'ingest', join(dir, 'blocks'), '--network', 'regtest', '--db', db]);
    const g = JSON.parse(
      run([
        'chain',
        'trace',
        txid.tx2,
        '--since',
        '3',
        '--until',
        '2017-05-31',
        '--hops',
        '5',
        '--min-value',
        '100',
        '--db',
        db,
        '--format',
        'json',
      ]),
    );
    const label = new Map(g.nodes.map((n: { id: string; label: string }) => [n.id, n.label]));
    assert.deepEqual(
      g.edges.map((e: { hop: number; from: string; to: string }) => [
        e.hop,
        label.get(e.from),
        label.get(e.to),
      ]),
      [
        [1, txid.tx2, D],
        [1, txid.tx2, E],
        [2, D, txid.tx3],
        [2, txid.tx3, F],
      ],
    );
    for (const [opt, v] of [
      ['--since', 'last week'],
      ['--until', '2017-02-30'],
      ['--hops', 'three'],
      ['--min-value', '0.5'],
    ]) {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'chain', 'trace', A, opt, v, '--db', db],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(r.status, 2, `${opt} ${v}: ${r.stderr}`);
      const esc = v.replace(/\./g, '\\.');
      assert.match(r.stderr, new RegExp(`^coinradar: ${opt}\\b.*${esc}`), r.stderr);
    }
  });
});
