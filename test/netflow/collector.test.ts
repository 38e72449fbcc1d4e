// The live collector on loopback (IPv4 and IPv6): bad datagrams are counted with their datagram
// number and never stop it; good ones before and after are stored. The CLI stops on SIGINT and commits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyEnrichment } from '../../src/flow/enrichment.js';
import { NetflowCollector, parseListen } from '../../src/netflow/collector.js';
import {
  dataSet,
  encodeRecord,
  field,
  ipfixMessage,
  templateSet,
  v5Packet,
  v9Packet,
} from '../../src/netflow/encode.js';
import { IE } from '../../src/netflow/plan.js';
import { openFlowStore } from '../../src/store/open.js';
import { collectArgs, exited, freeUdpPort, sleep } from './peers.js';

const FIELDS = [
  field(IE.sourceIPv4Address, 4),
  field(IE.destinationIPv4Address, 4),
  field(IE.sourceTransportPort, 2),
  field(IE.destinationTransportPort, 2),
  field(IE.protocolIdentifier, 1),
  field(IE.packetDeltaCount, 4),
  field(IE.octetDeltaCount, 4),
  field(IE.flowStartMilliseconds, 8),
  field(IE.flowEndMilliseconds, 8),
];
const T0 = Date.UTC(2017, 4, 17);

function goodIpfix(k: number): Buffer {
  return ipfixMessage({ exportSecs: T0 / 1000 + 60, domain: 3 }, [
    templateSet(false, [{ id: 256, fields: FIELDS }]),
    dataSet(256, [
      encodeRecord(FIELDS, ['175.45.178.1', '8.8.8.8', 40000 + k, 3333, 6, k, 100 * k, T0 + k, T0 + k + 10]),
    ]),
  ]);
}

async function send(sock: Socket, port: number, host: string, msgs: Buffer[]): Promise<void> {
  for (const m of msgs) {
    await new Promise<void>((res, rej) => sock.send(m, port, host, (e) => (e ? rej(e) : res())));
  }
}

test('parseListen accepts udp://IPv4:port and udp://[IPv6]:port, refuses the rest', () => {
  assert.deepEqual(parseListen('udp://127.0.0.1:2055'), { host: '127.0.0.1', port: 2055, ipv6: false });
  assert.deepEqual(parseListen('udp://[::1]:2055'), { host: '::1', port: 2055, ipv6: true });
  assert.throws(() => parseListen('tcp://127.0.0.1:2055'), /udp:\/\/HOST:PORT/);
  assert.throws(() => parseListen('udp://127.0.0.1'), /udp:\/\/HOST:PORT/);
});

for (const family of ['IPv4', 'IPv6'] as const) {
  test(`live collector (${family}): bad datagrams are counted by number, good ones before and after stored`, async () => {
    const host = family === 'IPv4' ? '127.0.0.1' : '::1';
    const store = await openFlowStore(':memory:');
    const seen: string[] = [];
    try {
      const c = await NetflowCollector.start({
        listen: family === 'IPv4' ? 'udp://127.0.0.1:0' : 'udp://[::1]:0',
        store,
        flushMs: 50,
        pendingMs: 100,
        onProblem: (p) => seen.push(`${p.offset} ${p.kind}`),
      });
      const sock = createSocket(family === 'IPv4' ? 'udp4' : 'udp6');
      const absurd = templateSet(false, [{ id: 300, fields: FIELDS }]);
      absurd.writeUInt16BE(50000, 6);
      const pastEnd = goodIpfix(3);
      const extra = Buffer.concat([pastEnd, Buffer.from([1, 0, 0x10, 0, 1, 2, 3, 4])]);
      extra.writeUInt16BE(extra.length, 2);
      const v9short = v9Packet({ sysUptime: 1, unixSecs: 1 }, []).subarray(0, 12);
      await send(sock, c.port, host, [
        goodIpfix(1), // 1
        Buffer.from('this is not netflow at all, just some random bytes'), // 2
        Buffer.alloc(1), // 3
        v9short, // 4
        extra, // 5: the good set inside is kept, the one past the end is reported
        ipfixMessage({ exportSecs: T0 / 1000 }, [absurd]), // 6
        ipfixMessage({ exportSecs: T0 / 1000, domain: 99 }, [dataSet(256, [Buffer.alloc(37)])]), // 7: no template
        v5Packet({ sysUptime: 5000, unixSecs: T0 / 1000 }, [
          {
            src: '10.0.0.1',
            dst: '10.0.0.2',
            srcPort: 1,
            dstPort: 2,
            proto: 17,
            packets: 3,
            bytes: 300,
            first: 1000,
            last: 2000,
          },
        ]), // 8
        goodIpfix(9), // 9
      ]);
      sock.close();
      await sleep(400); // the data set of datagram 7 expires (pendingMs) while the collector runs
      const r = await c.stop();
      assert.equal(r.datagrams, 9);
      assert.equal(r.flows, 4);
      const rows = await store.flows({ orderBy: 'position' });
      assert.deepEqual(
        rows.map((f) => [f.position, f.sport, f.packets, f.exporter, f.source]),
        [
          [1, 40001, 1, host, c.source],
          [5, 40003, 3, host, c.source],
          [8, 1, 3, host, c.source],
          [9, 40009, 9, host, c.source],
        ],
      );
      assert.equal(rows[0].first, '2017-05-17T00:00:00.001Z');
      assert.equal(rows[0].observation_domain, 3);
      assert.deepEqual(seen, [
        '2 bad-version',
        '3 truncated-header',
        '4 truncated-header',
        '5 bad-set-length',
        '6 bad-template',
        '7 no-template',
      ]);
      assert.equal(r.diagnostics.get('problems'), 6);
      const [src] = await store.sources();
      assert.equal(src.kind, 'netflow-live');
      assert.equal(src.flows, 4);
      assert.equal(src.complete, true);
    } finally {
      await store.close();
    }
  });
}

test('--max-datagrams stops the collector after N datagrams', async () => {
  const store = await openFlowStore(':memory:');
  try {
    const c = await NetflowCollector.start({ listen: 'udp://127.0.0.1:0', store, maxDatagrams: 3 });
    const sock = createSocket('udp4');
    await send(sock, c.port, '127.0.0.1', [goodIpfix(1), goodIpfix(2), goodIpfix(3)]);
    sock.close();
    const r = await c.done;
    assert.equal(r.datagrams, 3);
    assert.equal(r.flows, 3);
  } finally {
    await store.close();
  }
});

test('storeNice lowers every thread but the receiver (Linux), so receiving wins the CPU', async (t) => {
  if (!existsSync('/proc/thread-self')) {
    t.skip('no /proc/thread-self: per-thread priorities are Linux-only');
    return;
  }
  const nice = (tid: string) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19: nice
  };
  const store = await openFlowStore(':memory:');
  try {
    const before = new Set(readdirSync('/proc/self/task'));
    const c = await NetflowCollector.start({
      listen: 'udp://127.0.0.1:0',
      store,
      storeNice: 7,
      maxDatagrams: 1,
    });
    const tasks = readdirSync('/proc/self/task');
    // Exactly one thread keeps nice 0: the receiver worker, started by the collector. Every other
    // thread — the main (storing) thread, DuckDB's, libuv's, V8's — is at 7.
    const unlowered = tasks.filter((x) => nice(x) !== 7);
    assert.equal(nice(String(process.pid)), 7);
    assert.equal(unlowered.length, 1, `threads not lowered: ${unlowered.join(', ')} of ${tasks.length}`);
    assert.ok(!before.has(unlowered[0]), 'the one left at its priority is the new receiver thread');
    const sock = createSocket('udp4');
    await send(sock, c.port, '127.0.0.1', [goodIpfix(1)]);
    sock.close();
    assert.equal((await c.done).flows, 1);
  } finally {
    await store.close();
  }
});

test('coinradar collect: SIGINT stops it cleanly and what arrived is committed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-collect-'));
  try {
    const db = join(dir, 'flows.duckdb');
    const port = await freeUdpPort();
    const cli = spawn(
      process.execPath,
      // --no-geo: this test is about the collector; loading the geo tables is not what it times.
      collectArgs(db, `udp://127.0.0.1:${port}`, '--no-geo'),
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    // A failed assertion must not leave the collector running (the test file would never end).
    t.after(() => {
      if (cli.exitCode === null) cli.kill('SIGKILL');
    });
    cli.stdout.on('data', (d) => (out += d));
    cli.stderr.on('data', (d) => (err += d));
    for (let k = 0; k < 800 && !err.includes('collecting on'); k++) await sleep(50);
    assert.match(err, /collecting on udp:\/\/127\.0\.0\.1:\d+/);
    const sock = createSocket('udp4');
    await send(sock, port, '127.0.0.1', [goodIpfix(1), Buffer.from('junk'), goodIpfix(2)]);
    sock.close();
    await sleep(300);
    cli.kill('SIGINT');
    assert.equal(await exited(cli), 0, err);
    assert.match(out, /3 datagrams, 2 flows stored, 1 problems/);
    assert.match(err, /warning: udp:\/\/127\.0\.0\.1:\d+:datagram 2: bad-version/);
    const store = await openFlowStore(db);
    try {
      const rows = await store.flows({});
      assert.deepEqual(
        rows.map((f) => f.sport),
        [40001, 40002],
      );
      const [src] = await store.sources();
      assert.equal(src.complete, true);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('live collector: each AS organisation goes to the store once per name, and a renamed one again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-collect-orgs-'));
  const store = await openFlowStore(join(dir, 'orgs.duckdb'));
  // An enricher that names AS 64500 in every batch (as the geo enricher does), renamed from the
  // fourth batch on, and AS 64501 in every batch.
  let batches = 0;
  let oneWriter = 0;
  const enricher = {
    // The collector asks for the form that names each organisation once (the geo enricher's).
    forOneWriter() {
      oneWriter++;
      return enricher;
    },
    enrich(b: import('../../src/flow/record.js').FlowBatch) {
      const e = emptyEnrichment(b.length);
      e.srcAsn.fill(64500);
      e.dstAsn.fill(64501);
      e.asOrgs.set(64500, ++batches >= 4 ? 'Renamed Org' : 'First Org');
      e.asOrgs.set(64501, 'Other Org');
      return e;
    },
  };
  const handed: number[] = [];
  const writer = store.beginSource.bind(store);
  store.beginSource = async (info, opts) => {
    const w = await writer(info, opts);
    const append = w.append.bind(w);
    w.append = (b, e) => {
      handed.push(e.asOrgs.size);
      return append(b, e);
    };
    return w;
  };
  try {
    const c = await NetflowCollector.start({ listen: 'udp://127.0.0.1:0', store, enricher, flushMs: 20 });
    const sock = createSocket('udp4');
    for (let k = 1; k <= 6; k++) {
      await send(sock, c.port, '127.0.0.1', [goodIpfix(k)]);
      // One batch per datagram: the receiver hands partial batches over every 20 ms.
      for (let t = 0; t < 100 && c.flows < k; t++) await sleep(10);
    }
    sock.close();
    const r = await c.stop();
    assert.equal(r.flows, 6);
    assert.equal(oneWriter, 1);
    assert.ok(batches >= 4, `${batches} batches`);
    // Both names with the first batch, the renamed one once more; nothing for the other batches.
    assert.equal(
      handed.reduce((a, b) => a + b, 0),
      3,
      `organisations handed over per batch: ${handed.join(',')}`,
    );
    const db = (store as unknown as { db: { all<T>(sql: string): Promise<T[]> } }).db;
    const orgs = await db.all<{ asn: number; org: string }>('SELECT asn, org FROM as_orgs ORDER BY asn');
    assert.deepEqual(
      orgs.map((o) => [Number(o.asn), o.org]),
      [
        [64500, 'Renamed Org'],
        [64501, 'Other Org'],
      ],
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
