/**
 * The whole path on the real captures: coinradar's own capture reader and flow table
 * (ingestFile), the detection hook, the DuckDB store. Same acceptance as captures.test.ts, which
 * judges the matchers on tshark's flows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { openFlowStore } from '../../src/store/open.js';
import { openDetectionStore, type StoredDetection } from '../../src/store/detections.js';
import { detectionHookFor } from '../../src/detect/pipeline.js';
import { haveTshark, tsharkMiningConnections } from './tshark-flows.js';

const NDPI = 'test/fixtures/pcap/ndpi';
const NESFIT = 'test/fixtures/pcap/nesfit';

async function ingestAll(paths: string[]): Promise<StoredDetection[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cr-ingest-det-'));
  try {
    const store = await openFlowStore(join(dir, 'db.duckdb'));
    const det = await detectionHookFor(store);
    for (const p of paths) {
      const r = await ingestFile(p, { store, hooks: [det.hook] });
      assert.equal(r.error, undefined, `${p}: ${r.error}`);
    }
    const rows = await (await openDetectionStore(store)).detections({});
    await store.close();
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const COIN: Record<string, string[]> = {
  BITCOIN: ['BTC'],
  Monero: ['XMR'],
  ZCash: ['ZEC'],
  Ethereum: ['ETH'],
  'ZCash/Monero': ['ZEC', 'XMR'],
};
const LABEL: Record<string, string> = { BITCOIN: 'bitcoin-p2p', Monero: 'monero-p2p', Mining: 'stratum' };

test('ingest: every nDPI Mining/BITCOIN/Monero connection is found by payload with the right coin', async () => {
  const files = ['bitcoin.pcap', 'mining.pcapng', 'monero.pcap'];
  const rows = await ingestAll(files.map((f) => `${NDPI}/${f}`));
  let n = 0;
  for (const f of files) {
    for (const line of readFileSync(`${NDPI}/${f}.ndpi.out`, 'utf8').split('\n')) {
      const m =
        /^\s+\d+\s+TCP\s+(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+\[proto: [\d.]+\/(Mining|BITCOIN|Monero)\].*?\[Confidence: DPI\]/.exec(
          line,
        );
      if (!m) continue;
      n++;
      const cur = /\[currency: ([^\]]+)\]/.exec(line)?.[1] ?? m[5];
      const hits = rows.filter(
        (r) =>
          r.confidence === 'payload' &&
          ((r.src === m[1] && r.sport === +m[2] && r.dst === m[3] && r.dport === +m[4]) ||
            (r.src === m[3] && r.sport === +m[4] && r.dst === m[1] && r.dport === +m[2])),
      );
      assert.ok(hits.length >= 1, `${f}: ${m[1]}:${m[2]} <-> ${m[3]}:${m[4]} found`);
      // A connection idle for a minute continues in a new flow whose sample may not name the coin;
      // one flow must, and none may name another.
      for (const h of hits) {
        assert.equal(h.label, LABEL[m[5]]);
        assert.ok(h.coin === '' || COIN[cur].includes(h.coin), `${h.coin} for ${cur}`);
      }
      assert.ok(
        hits.some((h) => COIN[cur].includes(h.coin)),
        `${f}: ${m[1]}:${m[2]}: coin ${cur}`,
      );
    }
  }
  assert.equal(n, 14);
});

test('ingest: no payload or infrastructure detection in the negative captures', async () => {
  const rows = await ingestAll(
    ['bittorrent.pcap', 'gnutella.pcap', 'jsonrpc.pcap', 'http.pcapng', 'dns.pcap', 'irc.pcap'].map(
      (f) => `${NDPI}/${f}`,
    ),
  );
  const strong = rows.filter((r) => r.confidence === 'payload' || r.confidence === 'infrastructure');
  assert.deepEqual(
    strong.map((r) => `${r.source} ${r.src}:${r.sport} -> ${r.dst}:${r.dport} ${r.label}`),
    [],
  );
});

test(
  'ingest: the study captures — every Stratum/getblocktemplate connection found, artifacts stored',
  { skip: haveTshark() ? false : 'tshark not installed' },
  async () => {
    const files = [
      'cgminer.s0.pcapng',
      'cgminer.g0.pcapng',
      'xmr-eu1.nanopool.org.pcapng',
      'zec-eu1.nanopool.org.pcapng',
      'eth-eu1.nanopool.org.pcapng',
    ];
    const rows = await ingestAll(files.map((f) => `${NESFIT}/${f}`));
    for (const f of files) {
      const oracle = tsharkMiningConnections(
        `${NESFIT}/${f}`,
        f.startsWith('cgminer') ? '192.168.1.100' : '147.229.13.222',
      );
      const found = new Set(
        rows
          .filter(
            (x) =>
              x.source.endsWith(f) &&
              x.confidence === 'payload' &&
              ['stratum', 'getblocktemplate'].includes(x.label),
          )
          .map((x) => [x.sport, x.dport].sort((a, b) => a - b).join('-')),
      );
      const missing = [...oracle].filter((k) => !found.has(k));
      const extra = [...found].filter((k) => !oracle.has(k));
      assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, f);
      assert.ok(found.size >= 1);
    }
    const wallets = new Set(
      rows.flatMap((r) => r.artifacts.filter((a) => a.kind === 'wallet').map((a) => a.value)),
    );
    assert.ok(
      wallets.has(
        '47mr7jYTroxQMwdKoPQuJoc9Vs9S9qCUAL6Ek4qyNFWJdqgBZRn4RYY2QjQfqEMJZVWPscupSgaqmUn1dpdUTC4fQsu3yjN',
      ),
    );
    assert.ok(wallets.has('t1KJkEGkUrmBRQdeQeNchfqgvDFD7Pk1kKQ'));
    assert.ok(wallets.has('0x9c99d212f7e5daa18ab50810e0fd255d1f04303b'));
  },
);
