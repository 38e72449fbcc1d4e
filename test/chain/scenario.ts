// Builds a known history on a litecoind regtest node through its RPC and returns the truth:
// pool payouts, a multi-input spend, a CoinJoin-like transaction, a peel chain.
import type { RegtestNode } from './regtest-node.js';
import type { NodeRpc } from '../../src/chain/rpc.js';

const FEE = 0.0001;
const ltc = (x: number) => Math.round(x * 1e8) / 1e8;

export interface Truth {
  P1: string; // pool address (generatetoaddress, no tag)
  T1: string; // tagged pool address ('/coinradar-test-pool/')
  a: string[]; // alice a1..a3 and change a4
  b: string[]; // bob b1..b4 (peel chain)
  M: string; // merchant (reused)
  c: string[]; // carol c1 (in), c2 (mix), c3 (change)
  d: string[]; // dave d1 (in), d2 (from tagged pool), d3 (mix), d4 (change), d5 (change of final spend)
  e: string[];
  S: string; // shop
  txs: Record<string, string>;
}

async function utxo(
  w: NodeRpc,
  address: string,
  minAmount = 0,
): Promise<{ txid: string; vout: number; amount: number }> {
  const list = await w.call<{ txid: string; vout: number; amount: number; confirmations: number }[]>(
    'listunspent',
    [0, 9999999, [address]],
  );
  const u = list
    .filter((x) => x.amount >= minAmount)
    .sort((x, y) => y.confirmations - x.confirmations || x.txid.localeCompare(y.txid))[0];
  if (!u) throw new Error(`no utxo for ${address}`);
  return u;
}

async function send(
  node: RegtestNode,
  signers: string[],
  inputs: { txid: string; vout: number }[],
  outputs: Record<string, number>[],
): Promise<string> {
  const rpc = node.rpc();
  let hex = await rpc.call<string>('createrawtransaction', [inputs, outputs]);
  for (const s of signers) {
    const r = await node
      .rpc(s)
      .call<{ hex: string; complete: boolean }>('signrawtransactionwithwallet', [hex]);
    hex = r.hex;
  }
  return rpc.call<string>('sendrawtransaction', [hex]);
}

export async function buildScenario(node: RegtestNode, checkpoint?: () => Promise<void>): Promise<Truth> {
  const rpc = node.rpc();
  const wallets = ['pool', 'tpool', 'alice', 'bob', 'carol', 'dave', 'erin', 'shop'];
  for (const w of wallets) await rpc.call('createwallet', [w]);
  const addr = (w: string) => node.rpc(w).call<string>('getnewaddress', ['', 'bech32']);
  const P1 = await addr('pool');
  const T1 = await addr('tpool');
  const t1info = await node.rpc('tpool').call<{ scriptPubKey: string }>('getaddressinfo', [T1]);
  const mine = (n: number) => rpc.call('generatetoaddress', [n, P1]);
  const txs: Record<string, string> = {};

  // Two blocks from a pool that writes its tag in the coinbase; then 110 from the untagged pool.
  await node.mineTagged(Buffer.from(t1info.scriptPubKey, 'hex'), '/coinradar-test-pool/');
  await node.mineTagged(Buffer.from(t1info.scriptPubKey, 'hex'), '/coinradar-test-pool/');
  await mine(110);

  const a = [await addr('alice'), await addr('alice'), await addr('alice'), await addr('alice')];
  const b = [await addr('bob'), await addr('bob'), await addr('bob'), await addr('bob')];
  const c = [await addr('carol'), await addr('carol'), await addr('carol')];
  const d = [
    await addr('dave'),
    await addr('dave'),
    await addr('dave'),
    await addr('dave'),
    await addr('dave'),
  ];
  const e = [await addr('erin'), await addr('erin'), await addr('erin')];
  const M = await addr('shop');
  const S = await addr('shop');

  // Pool payouts: each spends one matured 50-LTC coinbase of P1 and returns the rest to P1.
  const pool = node.rpc('pool');
  const coinbases = (
    await pool.call<{ txid: string; vout: number; amount: number; confirmations: number }[]>('listunspent', [
      100,
      9999999,
      [P1],
    ])
  )
    .sort((x, y) => y.confirmations - x.confirmations)
    .slice(0, 4);
  for (let i = 0; i < 3; i++) {
    const cb = coinbases[i];
    txs[`payout_a${i + 1}`] = await send(
      node,
      ['pool'],
      [cb],
      [{ [a[i]]: 10 }, { [P1]: ltc(cb.amount - 10 - FEE) }],
    );
  }
  const cb4 = coinbases[3];
  txs.payout_cde = await send(
    node,
    ['pool'],
    [cb4],
    [{ [c[0]]: 6 }, { [d[0]]: 6 }, { [e[0]]: 6 }, { [P1]: ltc(cb4.amount - 18 - FEE) }],
  );
  const tcb = await utxo(node.rpc('tpool'), T1, 1);
  txs.payout_d2 = await send(node, ['tpool'], [tcb], [{ [d[1]]: 7 }, { [T1]: ltc(tcb.amount - 7 - FEE) }]);
  await mine(1);

  // Alice spends a1+a2+a3 together: common-input ownership.
  const ai = [
    await utxo(node.rpc('alice'), a[0]),
    await utxo(node.rpc('alice'), a[1]),
    await utxo(node.rpc('alice'), a[2]),
  ];
  txs.alice_spend = await send(node, ['alice'], ai, [{ [b[0]]: 25 }, { [a[3]]: ltc(30 - 25 - FEE) }]);
  await mine(1);
  await checkpoint?.();

  // CoinJoin-like: carol, dave, erin each bring 6 LTC and get 5 + change.
  const cj = [
    await utxo(node.rpc('carol'), c[0]),
    await utxo(node.rpc('dave'), d[0]),
    await utxo(node.rpc('erin'), e[0]),
  ];
  const change = ltc(1 - FEE);
  txs.coinjoin = await send(node, ['carol', 'dave', 'erin'], cj, [
    { [c[1]]: 5 },
    { [d[2]]: 5 },
    { [e[1]]: 5 },
    { [c[2]]: change },
    { [d[3]]: change },
    { [e[2]]: change },
  ]);
  await mine(1);

  // Peel chain from b1: 1 LTC to the (reused) merchant address each hop.
  let prev = await utxo(node.rpc('bob'), b[0]);
  for (let i = 1; i <= 3; i++) {
    const rest = ltc(prev.amount - 1 - FEE);
    txs[`peel${i}`] = await send(node, ['bob'], [prev], [{ [M]: 1 }, { [b[i]]: rest }]);
    await mine(1);
    prev = { txid: txs[`peel${i}`], vout: 1, amount: rest };
  }

  // Dave spends d2 (from the tagged pool) and d3 (from the mix) together.
  const di = [await utxo(node.rpc('dave'), d[1]), await utxo(node.rpc('dave'), d[2])];
  txs.dave_spend = await send(node, ['dave'], di, [{ [S]: 11 }, { [d[4]]: ltc(12 - 11 - FEE) }]);
  await mine(1);
  return { P1, T1, a, b, M, c, d, e, S, txs };
}
