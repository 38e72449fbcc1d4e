/**
 * One rule for the coin of a flow: protocol evidence in the payload > pool (catalogue, lists, pool
 * name) > mining software > port; every source kept in the evidence. Checked on the study's real
 * cgminer captures (cgminer is a Bitcoin miner; the catalogue knows most of the pools it probed as
 * pools of other coins) against an oracle written from the captures' own artifacts and the
 * catalogue file, and on crafted flows for each pair of sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { addressCoin } from '../../src/detect/coins.js';
import { bestClaim, resolveFlowCoin } from '../../src/detect/coin-rule.js';
import { ConnectionMemory } from '../../src/detect/connections.js';
import { detectBatchRows } from '../../src/detect/hook.js';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import type { Detection } from '../../src/detect/types.js';
import { FlowBatch, TCP_ACK, TCP_PSH, TCP_SYN } from '../../src/flow/record.js';
import { flowRecord } from './flow-record.js';
import { haveTshark, tsharkFlows } from './tshark-flows.js';

const detector = createDetector(loadInfrastructure());
const NESFIT = 'test/fixtures/pcap/nesfit';

/** Coins of each catalogue ip:port, straight from the CSV (the oracle does not use infrastructure.ts). */
function catalogueCoins(): Map<string, string> {
  const out = new Map<string, string>();
  const lines = readFileSync('src/detect/data/mining-servers-2018-05.csv', 'utf8').split('\n').slice(1);
  for (const l of lines) {
    const c = l.split(',');
    if (c.length > 6 && !out.has(`${c[3]}:${c[4]}`)) out.set(`${c[3]}:${c[4]}`, c[6]);
  }
  return out;
}

const MINER_AGENT = /^cgminer/i;

test(
  'cgminer captures: each flow has one coin, chosen protocol > catalogue > agent, with every source kept',
  { skip: haveTshark() ? false : 'tshark not installed' },
  () => {
    const catalogue = catalogueCoins();
    let checked = 0;
    let disagreeing = 0;
    for (const name of ['cgminer.g0.pcapng', 'cgminer.s0.pcapng']) {
      for (const f of tsharkFlows(`${NESFIT}/${name}`)) {
        const dets = detectFlow(detector, f);
        const mining = dets.find((d) => d.confidence === 'payload');
        const listed = catalogue.get(`${f.dst}:${f.dstPort}`);
        if (!mining || !listed || !['stratum', 'getblocktemplate'].includes(mining.label)) continue;
        checked++;
        // The oracle: a wallet's address shape or a coin-specific dialect, else the catalogue's
        // coin (narrowed by the agent when it lists several), else the agent's.
        const wallet = mining.artifacts.find((a) => a.kind === 'wallet');
        const dialect = mining.evidence.dialect;
        const protocol = wallet
          ? addressCoin(wallet.value)
          : dialect === 'ethereum'
            ? 'ETH'
            : dialect === 'cryptonote'
              ? 'XMR'
              : '';
        const agent = mining.artifacts.find((a) => a.kind === 'agent' && MINER_AGENT.test(a.value))
          ? 'BTC'
          : '';
        const narrowed = listed.includes('|') && agent && listed.split('|').includes(agent) ? agent : listed;
        const expect = protocol || narrowed;
        for (const d of dets)
          assert.equal(d.coin, expect, `${name} ${f.dst}:${f.dstPort} ${d.label}/${d.confidence}`);
        // Every source is kept: the catalogue's claim and the agent's, whatever won.
        const sources = mining.evidence.coinSources as
          { from: string; coin: string; by: string }[] | undefined;
        if (agent) {
          assert.ok(sources, `${f.dst}:${f.dstPort}: sources kept`);
          assert.ok(
            sources.some(
              (s) => s.from === 'catalogue' && s.coin === listed && s.by === 'stratum/infrastructure',
            ),
          );
          assert.ok(
            sources.some((s) => s.from === 'agent' && s.coin === 'BTC' && s.by === `${mining.label}/payload`),
          );
          if (new Set(sources.map((s) => s.coin)).size > 1) disagreeing++;
        }
      }
    }
    // The case this rule exists for is common here: most flows' sources disagree.
    assert.ok(checked >= 400, `${checked} flows`);
    assert.ok(disagreeing / checked > 0.5, `${disagreeing} of ${checked} disagree`);
  },
);

/** A Stratum session from a cgminer (Bitcoin-style) to an endpoint, optionally with a login. */
function stratumFlow(dst: string, dstPort: number, login?: string) {
  const lines = [
    '{"id":1,"method":"mining.subscribe","params":["cgminer/4.10.0"]}',
    ...(login ? [`{"id":2,"method":"mining.authorize","params":["${login}","x"]}`] : []),
  ];
  return flowRecord({
    dst,
    dstPort,
    tcpFlags: TCP_SYN | TCP_ACK | TCP_PSH,
    packets: 6,
    bytes: 600,
    payloadFwd: Buffer.from(lines.join('\n') + '\n'),
  });
}

const coins = (dets: Detection[]) => dets.map((d) => `${d.label}/${d.confidence}=${d.coin}`);
// pool.minexmr.com:3333 (XMR) and stratum.antpool.com:3333 (BCH|BTC) in the 2018 catalogue.
const XMR_POOL = '37.59.44.68';
const BCH_BTC_POOL = '52.88.164.98';
const ETH_WALLET = '0x9c99d212f7e5daa18ab50810e0fd255d1f04303b';

test('each pair of sources: wallet > catalogue > agent, multi-coin entries narrowed', () => {
  const wallet = detectFlow(detector, stratumFlow(XMR_POOL, 3333, `${ETH_WALLET}.rig1`));
  assert.deepEqual(coins(wallet), ['stratum/payload=ETH', 'stratum/infrastructure=ETH']);
  assert.equal(wallet[0].evidence.coinFrom, 'wallet');
  assert.deepEqual(
    (wallet[1].evidence.coinSources as { from: string; coin: string }[]).map((s) => `${s.from}=${s.coin}`),
    ['wallet=ETH', 'agent=BTC', 'catalogue=XMR'],
  );
  const catalogue = detectFlow(detector, stratumFlow(XMR_POOL, 3333));
  assert.deepEqual(coins(catalogue), ['stratum/payload=XMR', 'stratum/infrastructure=XMR']);
  assert.equal(catalogue[0].evidence.coinFrom, 'catalogue');
  const agent = detectFlow(detector, stratumFlow('192.0.2.7', 3333));
  assert.deepEqual(coins(agent), ['stratum/payload=BTC']);
  assert.equal(agent[0].evidence.coinFrom, 'agent');
  assert.equal(agent[0].evidence.coinSources, undefined, 'one source: nothing more to keep');
  const narrowed = detectFlow(detector, stratumFlow(BCH_BTC_POOL, 3333));
  assert.deepEqual(coins(narrowed), ['stratum/payload=BTC', 'stratum/infrastructure=BTC']);
  assert.equal(narrowed[0].evidence.coinFrom, 'catalogue+agent');
  // The rule itself, source by source.
  assert.deepEqual(
    bestClaim([
      { from: 'agent', coin: 'BTC' },
      { from: 'port', coin: 'ETH' },
    ]),
    { from: 'agent', coin: 'BTC' },
  );
  assert.deepEqual(
    bestClaim([
      { from: 'port', coin: 'ETH' },
      { from: 'pool', coin: 'ZEC' },
    ]),
    { from: 'pool', coin: 'ZEC' },
  );
  assert.deepEqual(
    bestClaim([
      { from: 'catalogue', coin: 'XMR' },
      { from: 'dialect', coin: 'ETH' },
    ]),
    {
      from: 'dialect',
      coin: 'ETH',
    },
  );
  assert.equal(bestClaim([{ from: 'agent', coin: '' }]), null);
  // Inside a class the order is fixed, whichever detection listed its claim first.
  for (const claims of [
    [
      { from: 'pool', coin: 'ZEC' },
      { from: 'catalogue', coin: 'XMR' },
    ],
    [
      { from: 'catalogue', coin: 'XMR' },
      { from: 'pool', coin: 'ZEC' },
    ],
  ])
    assert.equal(bestClaim(claims)?.coin, 'XMR');
  assert.equal(
    bestClaim([
      { from: 'dialect', coin: 'XMR' },
      { from: 'wallet', coin: 'ETH' },
    ])?.coin,
    'ETH',
  );
  const none: Detection[] = [];
  resolveFlowCoin(none);
  assert.deepEqual(none, []);
});

test('a connection continued in a later flow keeps the wallet coin over the catalogue', () => {
  const batch = new FlowBatch(4);
  batch.pushRecord(stratumFlow(XMR_POOL, 3333, `${ETH_WALLET}.rig1`));
  const submit = '{"id":9,"method":"mining.submit","params":["w","j","00","5a","01"]}\n';
  batch.pushRecord({ ...stratumFlow(XMR_POOL, 3333), payloadFwd: Buffer.from(submit) });
  const rows = detectBatchRows(detector, batch, 1, { connections: new ConnectionMemory() });
  assert.deepEqual(
    rows.map((r) => `${r.flowId} ${r.label}/${r.confidence}=${r.coin}`),
    [
      '1 stratum/payload=ETH',
      '1 stratum/infrastructure=ETH',
      '2 stratum/payload=ETH',
      '2 stratum/infrastructure=ETH',
    ],
  );
  assert.equal(rows[2].evidence.coinFrom, 'wallet (earlier flow of the connection)');
  // Without the memory the later flow alone has only the catalogue to go by.
  const alone = detectBatchRows(detector, batch, 1);
  assert.equal(alone[2].coin, 'XMR');
});
