// The collector's spool (src/netflow/spool.ts, `collect --spool DIR`): what is held while the store
// fails is on disk too, so a collector stopped or killed during an outage loses none of it and an
// outage longer than the memory buffer is kept. The file's records, a record cut short by a kill,
// one whose CRC does not check, a second collector on the same directory; then the collector in
// process (stopped during an outage, an outage past the memory buffer) and the real CLI killed
// with -9 while its disk is full (a tmpfs of its own). Flows carry their number in the source
// address (live-sender.ts): the store is checked flow by flow, in order. Loopback only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScreeningServer } from '../../src/cli/serve.js';
import { FlowBatch } from '../../src/flow/record.js';
import { parseSpoolSize } from '../../src/flow/size.js';
import { NetflowCollector, REPLAY_SLICE } from '../../src/netflow/collector.js';
import { prometheusText } from '../../src/netflow/metrics-server.js';
import { Spool } from '../../src/netflow/spool.js';
import { BATCH_COLUMNS } from '../../src/netflow/udp-receiver.js';
import type { DuckDbFlowStore } from '../../src/store/duckdb/flows.js';
import { openFlowStore } from '../../src/store/open.js';
import { smallDisk } from '../helpers/small-disk.js';
import { flowNumber, v9Datagram } from './live-sender.js';
import { collectArgs, exited, freeUdpPort, sleep, until } from './peers.js';

const PER = 30;

/** A batch of `n` flows numbered from `first`, every column filled from the number. */
function batchOf(first: number, n: number, cap = 64): FlowBatch {
  const b = new FlowBatch(cap, `udp://127.0.0.1:${first}`);
  for (let i = 0; i < n; i++) {
    const j = first + i;
    b.firstMs[i] = 1.5e12 + j;
    b.lastMs[i] = 1.5e12 + j + 999;
    b.ipVersion[i] = 4;
    b.src.set([10, (j >> 16) & 255, (j >> 8) & 255, j & 255], i * 16);
    b.dst.set([192, 0, 2, j & 255], i * 16);
    b.srcPort[i] = 40000 + (j % 1000);
    b.dstPort[i] = 3333;
    b.proto[i] = 6;
    b.packets[i] = j + 1;
    b.bytes[i] = (j + 1) * 60;
    b.revPackets[i] = j;
    b.revBytes[i] = j * 40;
    b.tcpFlags[i] = 0x1b;
    b.samplingRate[i] = 1 + (j % 3);
    b.observationDomain[i] = 7;
    b.position[i] = j * 3;
    b.exporterIdx[i] = 1;
  }
  b.length = n;
  b.exporters = ['', `192.0.2.${first % 250}`];
  return b;
}

/** Every column's values for the batch's flows, and its source and exporters. */
function contents(b: FlowBatch): unknown {
  const cap = b.firstMs.length;
  const cols: Record<string, number[]> = {};
  for (const c of BATCH_COLUMNS) cols[c] = [...b[c].subarray(0, b.length * (b[c].length / cap))];
  return { n: b.length, source: b.source, exporters: b.exporters, cols };
}

test('the spool file: batches read back column for column; what is stored is marked; a record cut short or corrupt is named by its byte offset and the ones before kept; one collector per directory', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-spool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = Spool.open(dir);
  assert.deepEqual([a.left, a.problems], [[], []]);
  const batches = [batchOf(0, 50), batchOf(50, 1), batchOf(51, 64)];
  const refs = batches.map((b) => a.spool.append(b)!);
  assert.ok(refs.every(Boolean));
  assert.deepEqual(
    refs.map((r) => a.spool.read(r)).map(contents),
    batches.map(contents),
    'every column, source and exporter list back',
  );
  // A second collector on the same directory is refused while this one holds it.
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  a.spool.close();
  writeFileSync(join(dir, 'held.spool.lock'), `${other.pid}\n`);
  assert.throws(() => Spool.open(dir), /in use by process \d+; give each collector its own --spool/);
  writeFileSync(join(dir, 'held.spool.lock'), '999999999\n'); // a process that is gone: taken over

  // Reopened: the three left, in order; the first one stored, then reopened again: two left.
  const b = Spool.open(dir);
  assert.deepEqual(b.left, refs);
  b.spool.storedUpTo(refs[1]);
  b.spool.close();
  const c = Spool.open(dir);
  assert.deepEqual(c.left, refs.slice(1));
  // What the store may hold uncommitted (ClickHouse) is kept for the next collector, and goes
  // once the records are stored.
  c.spool.setUndo([{ sourceId: 7, ids: [100, 130] }]);
  c.spool.close();
  const c2 = Spool.open(dir);
  assert.deepEqual(c2.undo, [{ sourceId: 7, ids: [100, 130] }]);
  assert.deepEqual(c2.left, refs.slice(1));
  c2.spool.close();
  const state = join(dir, 'held.spool.state');
  const kept = readFileSync(state, 'utf8');
  writeFileSync(state, '{"consumed":');
  assert.throws(() => Spool.open(dir), /held\.spool\.state: not JSON .*move the spool away/);
  // Ids that are not runs [from, to) are refused, not sent to the store's DELETE.
  writeFileSync(state, JSON.stringify({ ...JSON.parse(kept), undo: [{ sourceId: 7, ids: [100] }] }));
  assert.throws(() => Spool.open(dir), /an undo entry that is not \{sourceId, ids\}/);
  writeFileSync(state, kept);

  // Killed while writing the last record: it is cut short; the ones before are recovered.
  const file = join(dir, 'held.spool');
  truncateSync(file, statSync(file).size - 10);
  const d = Spool.open(dir);
  assert.deepEqual(d.left, [refs[1]]);
  assert.equal(d.problems.length, 1);
  assert.equal(d.problems[0].offset, refs[2].offset);
  assert.match(d.problems[0].message, /the record is cut short .* the \d+ bytes from here are not recovered/);
  assert.equal(statSync(file).size, refs[2].offset, 'the file cut where the bad record began');
  // A byte changed in a record's columns: its CRC does not check.
  const again = d.spool.append(batches[2])!;
  d.spool.close();
  const raw = readFileSync(file);
  raw[again.offset + again.bytes - 20] ^= 0xff;
  writeFileSync(file, raw);
  const e = Spool.open(dir);
  assert.deepEqual(e.left, [refs[1]]);
  assert.match(e.problems[0].message, /does not match its CRC-32/);
  assert.equal(e.problems[0].offset, again.offset);

  // Bounded: past --spool-size nothing is written, and it says why.
  const small = Spool.open(join(dir, 'small'), 2 ** 12);
  assert.ok(small.spool.append(batchOf(0, 10)));
  assert.equal(small.spool.append(batchOf(10, 64)), null);
  assert.match(String(small.spool.lastError), /the spool is full \(4096 bytes, --spool-size\)/);
  small.spool.clear();
  small.spool.close();
  assert.equal(existsSync(join(dir, 'small', 'held.spool')), false, 'an empty spool leaves no file');
  e.spool.close();

  // Not a spool: refused, with the offset.
  const bad = join(dir, 'notspool');
  Spool.open(bad).spool.close();
  writeFileSync(join(bad, 'held.spool'), 'something else entirely');
  assert.throws(() => Spool.open(bad), /held\.spool: byte 0: not a coinradar spool/);
  assert.equal(parseSpoolSize('4G'), 4 * 2 ** 30);
  assert.throws(() => parseSpoolSize('10'), /--spool-size: '10' is not a size of at least 1M/);
});

/**
 * A collector on the DuckDB store at `path` whose appends fail as a ClickHouse server away does
 * (ECONNREFUSED) while `away.on`, and whose recovery waits meanwhile.
 */
async function collectorOn(path: string, spoolDir: string, o: { storeBufferBytes?: number } = {}) {
  const store = (await openFlowStore(path)) as DuckDbFlowStore;
  const away = { on: false };
  // A batch with a flow numbered `from` or later waits for `at`, then fails as nothing passes.
  const breaks = { from: Infinity, at: Promise.resolve() };
  const begin = store.beginSource.bind(store);
  store.beginSource = async (...a) => {
    const w = await begin(...a);
    const append = w.append.bind(w);
    const recover = w.recover!.bind(w);
    const numbers = (b: FlowBatch) =>
      Array.from(
        { length: b.length },
        (_, i) => (b.src[i * 16 + 1] << 16) | (b.src[i * 16 + 2] << 8) | b.src[i * 16 + 3],
      );
    w.append = async (b, e) => {
      if (numbers(b).some((j) => j >= breaks.from)) {
        await breaks.at;
        throw new Error('test: the database file was removed');
      }
      return away.on ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123 (test)')) : append(b, e);
    };
    w.recover = async (cause) => (away.on ? null : recover(cause));
    return w;
  };
  const said: string[] = [];
  const c = await NetflowCollector.start({
    listen: 'udp://127.0.0.1:0',
    store,
    flushMs: 50,
    commitMs: 200,
    spoolDir,
    onStoreFailure: (m) => said.push(m),
    ...o,
  });
  const sock = createSocket('udp4');
  let seq = 0;
  const send = async (from: number, to: number) => {
    for (let k = from; k < to; k++) {
      await new Promise<void>((res, rej) =>
        sock.send(v9Datagram(0, k, PER, seq++), c.port, '127.0.0.1', (e) => (e ? rej(e) : res())),
      );
      await sleep(5);
    }
  };
  const close = async () => {
    sock.close();
    await store.close();
  };
  return { store, c, away, breaks, said, send, close };
}

/** A database and a spool directory in a folder of their own, removed when the test ends. */
function tempStore(t: { after(fn: () => void): void }): { dir: string; db: string; spoolDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cr-spool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, db: join(dir, 'live.duckdb'), spoolDir: join(dir, 'spool') };
}

async function storedInOrder(path: string): Promise<number[]> {
  const store = (await openFlowStore(path)) as DuckDbFlowStore;
  try {
    return (await store.db.all<{ src: string }>('SELECT src FROM flows ORDER BY id')).map((r) =>
      flowNumber(r.src),
    );
  } finally {
    await store.close();
  }
}

test('a collector stopped while its store is away keeps what it held in the spool; the next one on the spool stores it first: every flow once, in order', async (t) => {
  const { db, spoolDir } = tempStore(t);
  const one = await collectorOn(db, spoolDir);
  try {
    await one.send(0, 5);
    await until(() => one.c.metrics().flowsCommitted === 5 * PER, 5000, 'the first 150 flows committed');
    one.away.on = true;
    await one.send(5, 15);
    await until(() => one.c.metrics().counts['flows.held-store'] === 10 * PER, 5000, '300 flows held');
    assert.ok(one.c.metrics().counts['spool.bytes'] > 10 * PER * 100, 'on disk too');
    assert.match(
      prometheusText(one.c.metrics()),
      /# TYPE coinradar_collector_spool_bytes gauge\ncoinradar_collector_spool_bytes [1-9]\d*\n/,
    );
    // Stopped while it fails: nothing of what it held is lost; the spool keeps it.
    await assert.rejects(one.c.stop(), (e: Error) =>
      /storing failed, collection stopped: connect ECONNREFUSED .*\(150 flows committed before it; 0 received since were not kept; 300 are kept in .*held\.spool, stored by the next collector on --spool /.test(
        e.message,
      ),
    );
  } finally {
    await one.close();
  }
  assert.ok(existsSync(join(spoolDir, 'held.spool')));
  assert.equal(existsSync(join(spoolDir, 'held.spool.lock')), false, 'the directory given up');

  const two = await collectorOn(db, spoolDir);
  try {
    // Stored before anything new, with no traffic at all.
    await until(() => two.c.metrics().flowsCommitted === 10 * PER, 5000, 'the 300 spooled flows committed');
    assert.match(
      two.said.join('\n'),
      /^300 flows a collector before this one held in .*held\.spool \(the store was failing when it stopped\) are stored now$/m,
    );
    await two.send(15, 20);
    await until(() => two.c.metrics().flowsCommitted === 15 * PER, 5000, '150 more');
    const r = await two.c.stop();
    assert.equal(r.diagnostics.get('flows.spool-stored'), 300);
    assert.equal(r.diagnostics.get('flows.lost-store'), 0);
  } finally {
    await two.close();
  }
  assert.equal(existsSync(join(spoolDir, 'held.spool')), false, 'all of it stored: the file is gone');
  assert.deepEqual(await storedInOrder(db), [...Array(20 * PER).keys()]);
});

test('what the spool writes goes to the disk at sync() (fdatasync of held.spool, fsync of its directory), once per write, and the state is flushed before its rename: seen by strace', (t) => {
  if (spawnSync('sh', ['-c', 'command -v strace']).status !== 0) {
    t.skip('strace not installed (scripts/install-test-deps.sh installs it)');
    return;
  }
  const probe = spawnSync('strace', ['-o', '/dev/null', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip(`strace cannot trace here (a container without ptrace?): ${probe.stderr.trim()}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cr-spool-sync-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = (p: string) => new URL(`../../src/${p}`, import.meta.url).href;
  // A mark before each step: an access() of a path that does not exist, which strace shows in order.
  writeFileSync(
    join(dir, 'child.ts'),
    `import { existsSync } from 'node:fs';
import { FlowBatch } from '${src('flow/record.js')}';
import { Spool } from '${src('netflow/spool.js')}';
const mark = (m: string) => existsSync('/nonexistent-cr-mark-' + m);
const { spool } = Spool.open(process.argv[2]);
const b = new FlowBatch(8, 'udp://127.0.0.1:1');
b.length = 8;
mark('append');
spool.append(b);
mark('sync');
spool.sync();
mark('sync-again');
spool.sync();
mark('state');
spool.storedUpTo(null);
mark('end');
spool.close();
`,
  );
  const out = join(dir, 'strace.out');
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-y',
      '-o',
      out,
      '-e',
      'trace=fdatasync,fsync,rename,renameat,renameat2,access,faccessat,faccessat2',
      process.execPath,
      '--import',
      'tsx',
      join(dir, 'child.ts'),
      join(dir, 'spool'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const steps: Record<string, string[]> = {};
  let step = '';
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /cr-mark-([a-z-]+)/.exec(line);
    if (m) {
      step = m[1];
      steps[step] = [];
    } else if (step && /\b(fdatasync|fsync|rename\w*)\(/.test(line))
      steps[step].push(
        line
          .replace(/^\d+ +/, '')
          .replace(/\) += 0$/, ')')
          .replaceAll(dir, 'DIR'),
      );
  }
  const spoolDir = 'DIR/spool';
  assert.deepEqual(
    Object.keys(steps),
    ['append', 'sync', 'sync-again', 'state', 'end'],
    JSON.stringify(steps),
  );
  assert.deepEqual(steps.append, [], 'an append is not flushed by itself');
  assert.equal(steps.sync.length, 2, steps.sync.join('\n'));
  assert.match(steps.sync[0], new RegExp(`^fdatasync\\(\\d+<${spoolDir}/held\\.spool>\\)$`));
  assert.match(steps.sync[1], new RegExp(`^fsync\\(\\d+<${spoolDir}>\\)$`));
  assert.deepEqual(steps['sync-again'], [], 'nothing new: nothing flushed');
  assert.equal(steps.state.length, 2, steps.state.join('\n'));
  assert.match(steps.state[0], new RegExp(`^fsync\\(\\d+<${spoolDir}/held\\.spool\\.state\\.tmp>\\)$`));
  assert.match(
    steps.state[1],
    /^rename\("DIR\/spool\/held\.spool\.state\.tmp", "DIR\/spool\/held\.spool\.state"\)$/,
  );
});

test('an outage longer than the memory buffer: with a spool, what does not fit in memory is kept on disk and stored in slices once the store is back; none lost', async (t) => {
  const { db, spoolDir } = tempStore(t);
  const slice = { ...REPLAY_SLICE };
  // Slices of ~3 datagrams' flows (101 bytes each), so storing what was held takes several commits,
  // and of 5 ms of storing, so what arrives meanwhile is held behind the rest.
  REPLAY_SLICE.bytes = 3 * PER * 101;
  REPLAY_SLICE.ms = 5;
  t.after(() => Object.assign(REPLAY_SLICE, slice));
  // Memory for two datagrams' flows: the rest of the outage is on disk only.
  const c = await collectorOn(db, spoolDir, { storeBufferBytes: 2 * PER * 101 });
  try {
    await c.send(0, 5);
    await until(() => c.c.metrics().flowsCommitted === 5 * PER, 5000, '150 flows committed');
    c.away.on = true;
    await c.send(5, 25);
    await until(() => c.c.metrics().counts['flows.held-store'] === 20 * PER, 5000, '600 flows held');
    c.away.on = false;
    // Sent while what was held is being stored: held behind it, in order.
    await c.send(25, 30);
    await until(() => c.c.metrics().flowsCommitted === 30 * PER, 10_000, 'every flow committed');
    assert.match(
      c.said.at(-1)!,
      /(6[0-9]{2}|7[0-4][0-9]|750) flows held in memory and in .*held\.spool while it failed .* are stored now; 0 flows lost/,
    );
    const r = await c.c.stop();
    assert.equal(r.diagnostics.get('flows.lost-store'), 0);
    const held = r.diagnostics.get('flows.held-stored');
    assert.ok(
      held >= 600 && held <= 750,
      `${held} held and stored: the outage's 600 and what came while they were stored`,
    );
  } finally {
    await c.close();
  }
  assert.deepEqual(await storedInOrder(db), [...Array(30 * PER).keys()]);
});

test('a failure that stops the collector (one that does not pass): with a spool, the open interval and what it received after are kept for the next collector, every flow once, in order', async (t) => {
  const { db, spoolDir } = tempStore(t);
  const one = await collectorOn(db, spoolDir);
  try {
    await one.send(0, 5);
    await until(() => one.c.metrics().flowsCommitted === 5 * PER, 5000, '150 flows committed');
    let release!: () => void;
    one.breaks.at = new Promise((r) => (release = r));
    one.breaks.from = 8 * PER;
    await one.send(5, 12);
    await until(() => one.c.metrics().counts.datagrams === 12, 5000, 'every datagram received');
    release();
    await assert.rejects(
      one.c.done,
      /storing failed, collection stopped: test: the database file was removed \(\d+ flows committed before it; 0 received since were not kept; \d+ are kept in .*held\.spool/,
    );
  } finally {
    await one.close();
  }
  const two = await collectorOn(db, spoolDir);
  try {
    await until(() => two.c.metrics().counts['flows.spool-stored'] > 0, 5000, 'the spool stored');
    await two.send(12, 15);
    await until(() => two.c.metrics().counts.datagrams === 3, 5000, '3 more datagrams');
    await two.c.stop();
  } finally {
    await two.close();
  }
  assert.deepEqual(await storedInOrder(db), [...Array(15 * PER).keys()]);
});

test(
  'coinradar collect --spool killed with -9 while its disk is full: the next collect on the spool stores what it held, every flow once, in order',
  { timeout: 120_000 },
  async (t) => {
    const disk = smallDisk(48);
    if (typeof disk === 'string') {
      t.skip(disk);
      return;
    }
    t.after(() => disk.unmount());
    const dir = mkdtempSync(join(tmpdir(), 'cr-spool-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(disk.dir, 'live.duckdb');
    const spoolDir = join(dir, 'spool');
    const procs: ChildProcess[] = [];
    t.after(() => {
      for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    });
    const sock = createSocket('udp4');
    t.after(() => sock.close());
    let seq = 0;
    const start = async () => {
      const port = await freeUdpPort();
      const proc = spawn(
        process.execPath,
        collectArgs(
          db,
          `udp://127.0.0.1:${port}`,
          '--no-geo',
          '--no-detect',
          '--metrics',
          '127.0.0.1:0',
          '--spool',
          spoolDir,
        ),
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      procs.push(proc);
      let err = '';
      proc.stderr!.on('data', (d) => (err += d));
      await until(() => err.includes('metrics on') || proc.exitCode !== null, 60_000, 'collect started');
      const metrics = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)/.exec(err)?.[1]);
      assert.ok(metrics, err);
      const health = async () =>
        (await (await fetch(`http://127.0.0.1:${metrics}/healthz`)).json()) as {
          status: string;
          flowsCommitted: number;
          counts: Record<string, number>;
        };
      const send = async (from: number, to: number) => {
        for (let k = from; k < to; k++) {
          await new Promise<void>((res, rej) =>
            sock.send(v9Datagram(0, k, PER, seq++), port, '127.0.0.1', (e) => (e ? rej(e) : res())),
          );
          await sleep(5);
        }
      };
      return { proc, health, send, err: () => err };
    };

    const first = await start();
    await first.send(0, 10);
    await until(
      async () => (await first.health()).flowsCommitted === 10 * PER,
      10_000,
      '300 flows committed',
    );
    const filler = disk.fill();
    // The interval open when the disk filled (kept as copies), then what arrives while it is full.
    await first.send(10, 20);
    await until(async () => (await first.health()).status === 'degraded', 10_000, 'the store failing');
    await first.send(20, 30);
    await until(
      async () => (await first.health()).counts['flows.held-store'] === 20 * PER,
      10_000,
      'the 600 flows of the full disk held',
    );
    assert.equal((await first.health()).status, 'degraded');
    first.proc.kill('SIGKILL');
    await exited(first.proc);
    disk.free(filler);

    const second = await start();
    await until(
      async () => (await second.health()).flowsCommitted === 20 * PER,
      20_000,
      'the 600 held flows stored by the next collector',
    );
    assert.match(
      second.err(),
      /600 flows a collector before this one held in .*held\.spool .* are stored now/,
    );
    await second.send(30, 40);
    await until(async () => (await second.health()).flowsCommitted === 30 * PER, 10_000, '300 more');
    second.proc.kill('SIGINT');
    assert.equal(await exited(second.proc), 0, second.err());
    assert.equal(existsSync(join(spoolDir, 'held.spool')), false);
    assert.deepEqual(await storedInOrder(db), [...Array(40 * PER).keys()]);
  },
);

test('--spool and --spool-size: a bad size stops collect before it opens the store; serve takes --spool only with --collect; a second collect on a spool in use is refused, naming the process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-spool-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (args: string[]) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    return { code: await exited(p), err };
  };
  const bad = await run(
    collectArgs(
      join(dir, 'x.duckdb'),
      'udp://127.0.0.1:0',
      '--spool',
      join(dir, 's'),
      '--spool-size',
      '10',
    ).slice(3),
  );
  assert.equal(bad.code, 2, bad.err);
  assert.match(bad.err, /--spool-size: '10' is not a size of at least 1M/);
  assert.equal(existsSync(join(dir, 'x.duckdb')), false, 'no store opened');
  const serve = await run(['serve', '--db', join(dir, 'y.duckdb'), '--port', '0', '--spool', join(dir, 's')]);
  assert.equal(serve.code, 2, serve.err);
  assert.match(serve.err, /--spool: only with --collect/);
  const timeout = await run([
    'serve',
    '--db',
    join(dir, 'y.duckdb'),
    '--port',
    '0',
    '--store-timeout',
    'soon',
  ]);
  assert.equal(timeout.code, 2, timeout.err);
  assert.match(timeout.err, /--store-timeout must be a number of at least 0, not 'soon'/);
  assert.equal(existsSync(join(dir, 'y.duckdb')), false, 'no store opened');

  // One collector holds the spool; a second on it is refused and says which process holds it.
  const port = await freeUdpPort();
  const first = spawn(
    process.execPath,
    collectArgs(
      join(dir, 'a.duckdb'),
      `udp://127.0.0.1:${port}`,
      '--no-geo',
      '--no-detect',
      '--spool',
      join(dir, 's'),
    ),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  t.after(() => first.kill('SIGKILL'));
  let err = '';
  first.stderr!.on('data', (d) => (err += d));
  await until(
    () => err.includes('collecting on') || first.exitCode !== null,
    60_000,
    'the first collect started',
  );
  const second = await run(
    collectArgs(
      join(dir, 'b.duckdb'),
      'udp://127.0.0.1:0',
      '--no-geo',
      '--no-detect',
      '--spool',
      join(dir, 's'),
    ).slice(3),
  );
  assert.equal(second.code, 2, second.err);
  assert.match(
    second.err,
    new RegExp(
      `held\\.spool\\.lock: the spool is in use by process ${first.pid}; give each collector its own --spool`,
    ),
  );
  first.kill('SIGINT');
  assert.equal(await exited(first), 0, err);
  assert.equal(existsSync(join(dir, 's', 'held.spool.lock')), false, 'the lock given up');
  assert.equal(existsSync(join(dir, 's', 'held.spool')), false, 'nothing held: no file');
});

test('serve --collect --spool: the collector beside the API holds the spool while it runs and gives it up when serve stops', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-spool-serve-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const spoolDir = join(dir, 'spool');
  const server = await openScreeningServer({
    db: join(dir, 'live.duckdb'),
    rate: 0,
    audit: join(dir, 'audit.jsonl'),
    collect: 'udp://127.0.0.1:0',
    spoolDir,
    spoolBytes: 2 ** 20,
  });
  try {
    assert.equal(readFileSync(join(spoolDir, 'held.spool.lock'), 'utf8').trim(), String(process.pid));
    assert.throws(() => Spool.open(spoolDir), /in use by this process/, 'a second collector is refused');
  } finally {
    await server.close();
  }
  assert.equal(existsSync(join(spoolDir, 'held.spool.lock')), false);
});
