// The node is a peer we do not control: a fake JSON-RPC server on 127.0.0.1 plays the hostile or
// broken node (wrong types, a body past the cap, a body that never ends, no answer at all, HTTP
// errors), and every failure must be an RpcError naming method, URL (no password), HTTP status
// and the node's own error. A real litecoind covers the honest node (litecoind.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { jsonOverBudget, NodeRpc, RpcError, wholeNumber, type RpcFailure } from '../../src/chain/rpc.js';
import { blocksFromRpc, networkOfNode } from '../../src/chain/source.js';
import { ingestChain } from '../../src/chain/ingest.js';
import { NETWORKS } from '../../src/chain/network.js';
import { DuckDbChainStore } from '../../src/store/duckdb/chain.js';
import { blockHash, buildBlock, coinbaseTx, p2pkhScript } from '../../src/chain/synthetic.js';
import { hashHex } from '../../src/chain/hash.js';
import { cliProcess } from './cli-process.js';

type Handler = (body: string, req: IncomingMessage, res: ServerResponse) => void;

async function fakeNode(
  handler: Handler,
): Promise<{ server: Server; port: number; url: string; where: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(Buffer.concat(chunks).toString('utf8'), req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    url: `http://cr:s3cret-pw@127.0.0.1:${port}`,
    where: `http://127.0.0.1:${port}/`,
  };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

/** A JSON-RPC reply for each request of a single or batched call. */
function reply(body: string, result: (method: string, params: unknown[]) => unknown): string {
  const one = (q: { id: number; method: string; params: unknown[] }) => ({
    result: result(q.method, q.params),
    error: null,
    id: q.id,
  });
  const parsed = JSON.parse(body);
  return JSON.stringify(Array.isArray(parsed) ? parsed.map(one) : one(parsed));
}

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, `an RpcError, not ${String(e)}`);
    return e;
  }
  assert.fail('the call succeeded');
}

function named(e: RpcError, method: string, where: string, failure: RpcFailure) {
  assert.equal(e.failure, failure, e.message);
  assert.equal(e.method, method);
  assert.equal(e.url, where);
  assert.ok(e.message.startsWith(`${method} at ${where}: `), e.message);
  assert.ok(!e.message.includes('s3cret-pw'), `no password in ${e.message}`);
}

test('RPC errors name method, URL (no password), HTTP status and the node error: refused, HTTP, JSON-RPC, non-JSON, auth', async () => {
  // Connection refused: a port that was just free.
  const gone = await fakeNode(() => {});
  await close(gone.server);
  const refused = await rejection(new NodeRpc({ url: gone.url }).call('getblockchaininfo'));
  named(refused, 'getblockchaininfo', gone.where, 'connect');
  assert.match(refused.message, /ECONNREFUSED/);

  let mode = '';
  const n = await fakeNode((body, req, res) => {
    if (mode === 'rpc-error') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ result: null, error: { code: -8, message: 'Block height out of range' }, id: 1 }),
      );
    } else if (mode === 'html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>not a node</html>');
    } else if (mode === '503') {
      res.writeHead(503);
      res.end('busy');
    } else if (mode === '401') {
      res.writeHead(401);
      res.end();
    } else if (mode === 'batch-error') {
      const qs = JSON.parse(body) as { id: number }[];
      res.end(
        JSON.stringify(
          qs.map((q, i) =>
            i === 1
              ? { result: null, error: { code: -5, message: 'Block not found' }, id: q.id }
              : { result: 'ab'.repeat(40), error: null, id: q.id },
          ),
        ),
      );
    } else if (mode === 'auth-echo') {
      res.end(JSON.stringify({ result: req.headers.authorization, error: null, id: JSON.parse(body).id }));
    } else if (mode === 'batch-dup') {
      const qs = JSON.parse(body) as { id: number }[];
      res.end(JSON.stringify(qs.map(() => ({ result: 1, error: null, id: qs[0].id }))));
    } else if (mode === 'batch-short') {
      const qs = JSON.parse(body) as { id: number }[];
      res.end(JSON.stringify(qs.slice(1).map((q) => ({ result: 1, error: null, id: q.id }))));
    }
  });
  try {
    const rpc = new NodeRpc({ url: n.url });
    mode = 'rpc-error';
    const e1 = await rejection(rpc.call('getblockhash', [999]));
    named(e1, 'getblockhash', n.where, 'rpc');
    assert.equal(e1.status, 500);
    assert.equal(e1.code, -8);
    assert.match(e1.message, /HTTP 500, node error -8: Block height out of range \(params \[999\]\)$/);
    mode = 'html';
    const e2 = await rejection(rpc.call('getblockchaininfo'));
    named(e2, 'getblockchaininfo', n.where, 'non-json');
    assert.equal(e2.status, 200);
    assert.match(e2.message, /not JSON.*<html>not a node/);
    mode = '503';
    const e3 = await rejection(rpc.call('getblockchaininfo'));
    named(e3, 'getblockchaininfo', n.where, 'http');
    assert.equal(e3.status, 503);
    mode = '401';
    const e4 = await rejection(rpc.call('getblockchaininfo'));
    named(e4, 'getblockchaininfo', n.where, 'auth');
    assert.equal(e4.status, 401);
    mode = 'batch-error';
    const e5 = await rejection(
      rpc.batch('getblock', [
        ['aa', 0],
        ['bb', 0],
        ['cc', 0],
      ]),
    );
    named(e5, 'getblock', n.where, 'rpc');
    assert.equal(e5.code, -5);
    assert.match(e5.message, /node error -5: Block not found \(params \["bb",0\]\)/);
    // Credentials from the cookie file; a file that is not one is refused by name.
    const dir = mkdtempSync(join(tmpdir(), 'cr-cookie-'));
    try {
      writeFileSync(join(dir, '.cookie'), '__cookie__:abc123\n');
      writeFileSync(join(dir, 'bad'), 'no-colon-here\n');
      mode = 'auth-echo';
      const hdr = await new NodeRpc({
        url: `http://127.0.0.1:${n.port}`,
        cookieFile: join(dir, '.cookie'),
      }).call('echo');
      assert.equal(hdr, 'Basic ' + Buffer.from('__cookie__:abc123').toString('base64'));
      assert.throws(
        () => new NodeRpc({ url: n.url, cookieFile: join(dir, 'bad') }),
        /bad: not a node cookie file \(expected user:password on one line\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    mode = 'batch-dup';
    named(
      await rejection(rpc.batch('getblockhash', [[1], [2]], wholeNumber)),
      'getblockhash',
      n.where,
      'type',
    );
    mode = 'batch-short';
    const e7 = await rejection(rpc.batch('getblockhash', [[1], [2]], wholeNumber));
    named(e7, 'getblockhash', n.where, 'type');
    assert.match(e7.message, /no reply for params \[1\]/);
  } finally {
    await close(n.server);
  }
});

test('wrong types refused with method, URL and field: getblockchaininfo, getblockhash, getblock', async () => {
  let info: unknown = { chain: 'regtest', blocks: null, bestblockhash: 'ab'.repeat(32) };
  let hash: unknown = 'cd'.repeat(32);
  let block: unknown = 'zz';
  const n = await fakeNode((body, _req, res) =>
    res.end(reply(body, (m) => (m === 'getblockchaininfo' ? info : m === 'getblockhash' ? hash : block))),
  );
  try {
    const rpc = new NodeRpc({ url: n.url });
    const e1 = await rejection(networkOfNode(rpc));
    named(e1, 'getblockchaininfo', n.where, 'type');
    assert.match(e1.message, /field "blocks" is null, expected a whole number >= 0/);
    info = { chain: 'regtest', blocks: '3', bestblockhash: 'ab'.repeat(32) };
    assert.match((await rejection(networkOfNode(rpc))).message, /field "blocks" is the string "3"/);
    info = { chain: 7, blocks: 3, bestblockhash: 'ab'.repeat(32) };
    assert.match(
      (await rejection(networkOfNode(rpc))).message,
      /field "chain" is the number 7, expected a string/,
    );
    info = null;
    assert.match((await rejection(networkOfNode(rpc))).message, /: result is null, expected an object$/);
    info = 'a string';
    assert.match(
      (await rejection(networkOfNode(rpc))).message,
      /result is the string "a string", expected an object/,
    );
    info = { chain: 'regtest', blocks: 3, bestblockhash: 'ab'.repeat(32) };
    hash = 12;
    const e2 = await rejection(networkOfNode(rpc));
    named(e2, 'getblockhash', n.where, 'type');
    assert.match(e2.message, /result is the number 12, expected a block hash/);
    hash = 'cd'.repeat(32);
    const drain = async () => {
      for await (const s of blocksFromRpc(rpc, new Diagnostics())) void s;
    };
    // getblock's hex: odd length, then non-hex digits.
    block = 'abc';
    const e3 = await rejection(drain());
    named(e3, 'getblock', n.where, 'type');
    assert.match(e3.message, /non-empty hex string of even length \(params \["cd/);
    block = '00'.repeat(40) + 'zz' + '00'.repeat(40);
    const e4 = await rejection(drain());
    named(e4, 'getblock', n.where, 'type');
    assert.match(e4.message, /not hex: a non-hex digit at character 80/);
    // A block that does not parse, and a good block that is not the one asked for.
    block = '00'.repeat(100);
    const e6 = await rejection(drain());
    named(e6, 'getblock', n.where, 'type');
    assert.match(e6.message, /block (cd)+ at height 0: does not parse at byte \d+: /);
    const other = buildBlock(
      Buffer.alloc(32),
      [coinbaseTx(0, [{ value: 1, script: p2pkhScript(Buffer.alloc(20)) }])],
      1,
    );
    block = other.toString('hex');
    const e7 = await rejection(drain());
    named(e7, 'getblock', n.where, 'type');
    assert.match(e7.message, new RegExp(`at height 0: the node sent block ${hashHex(blockHash(other))}$`));
    hash = null;
    const e5 = await rejection(drain());
    named(e5, 'getblockhash', n.where, 'type');
    assert.match(e5.message, /result is null, expected a block hash.*\(params \[0\]\)/);
  } finally {
    await close(n.server);
  }
});

test('--rpc-timeout: a server that never answers, and one whose body never ends, fail within the deadline', async () => {
  // Accepts and reads, never answers.
  const silent = await fakeNode(() => {});
  // Answers headers, then a byte every 50 ms for ever (until the client goes).
  const trickle = await fakeNode((_b, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const t = setInterval(() => res.write(' '), 50);
    res.on('close', () => clearInterval(t));
  });
  try {
    for (const [n, what] of [
      [silent, 'silent'],
      [trickle, 'trickle'],
    ] as const) {
      const t0 = performance.now();
      const e = await rejection(new NodeRpc({ url: n.url, timeoutMs: 400 }).call('getblockchaininfo'));
      const ms = performance.now() - t0;
      named(e, 'getblockchaininfo', n.where, 'timeout');
      assert.match(e.message, /no complete answer within 400 ms \(--rpc-timeout\)/, what);
      assert.ok(ms >= 390 && ms < 3000, `${what}: failed after ${ms.toFixed(0)} ms`);
    }
  } finally {
    await close(silent.server);
    await close(trickle.server);
  }
});

test('--rpc-connect-timeout: a listener whose accept queue is full never completes the handshake', async (t) => {
  // Linux drops SYNs to a listener whose accept queue is full. Node's net server always accepts,
  // so a listener that never accepts is a python3 one-liner (listen(0), never accept()).
  const py = spawn(
    'python3',
    [
      '-c',
      "import socket,sys,time\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0)\n" +
        'print(s.getsockname()[1], flush=True); sys.stdin.read()',
    ],
    { stdio: ['pipe', 'pipe', 'ignore'] },
  );
  const port = await new Promise<number | null>((resolve) => {
    py.on('error', () => resolve(null));
    py.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  if (port === null) {
    t.skip('python3 not found: no listener that never accepts');
    return;
  }
  const held: Socket[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
    }
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    const e = await rejection(
      new NodeRpc({ url: `http://127.0.0.1:${port}`, connectTimeoutMs: 300, timeoutMs: 5000 }).call(
        'getblockchaininfo',
      ),
    );
    const ms = performance.now() - t0;
    named(e, 'getblockchaininfo', `http://127.0.0.1:${port}/`, 'timeout');
    assert.match(e.message, /no connection within 300 ms \(--rpc-connect-timeout\)/);
    assert.ok(ms >= 290 && ms < 2000, `after ${ms.toFixed(0)} ms`);
  } finally {
    for (const s of held) s.destroy();
    py.kill();
  }
});

test('--rpc-max-bytes: a body past the cap is aborted while streaming; memory does not grow by the body', async () => {
  const cap = 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let sent = 0;
  let stopped = false;
  // Sends up to 700 MB (chunked, no length), respecting backpressure, until the client goes.
  const endless = await fakeNode((_b, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.on('close', () => (stopped = true));
    const pump = () => {
      while (!stopped && sent < 700e6) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  // Declares 700 MB up front: refused before reading.
  const declared = await fakeNode((_b, _req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(700e6) });
    res.write(chunk);
  });
  try {
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const e = await rejection(new NodeRpc({ url: endless.url, maxBytes: cap }).call('getblock', ['aa', 0]));
    const grew = process.memoryUsage().rss - rss0;
    named(e, 'getblock', endless.where, 'too-large');
    assert.match(
      e.message,
      /answer larger than the cap of 1048576 bytes \(--rpc-max-bytes\); aborted after \d+ bytes/,
    );
    // Socket buffers may hold a few MB more than the client read; nowhere near 700 MB.
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(sent < cap + 16 * 1024 * 1024, `server got to send ${sent} bytes`);
    assert.ok(grew < 64 * 1024 * 1024, `RSS grew by ${grew} bytes`);
    console.log(`cap 1 MiB: server sent ${sent} bytes, RSS grew ${(grew / 1048576).toFixed(1)} MiB`);
    // The case at the default cap (32 MiB): a 700 MB answer stops at the cap.
    sent = 0;
    stopped = false;
    const rss1 = process.memoryUsage().rss;
    const d = await rejection(new NodeRpc({ url: endless.url }).call('getblock', ['aa', 0]));
    named(d, 'getblock', endless.where, 'too-large');
    assert.match(d.message, /cap of 33554432 bytes/);
    const grewDefault = process.memoryUsage().rss - rss1;
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(sent < 33554432 + 16 * 1024 * 1024, `server got to send ${sent} bytes`);
    assert.ok(grewDefault < 160 * 1024 * 1024, `RSS grew by ${grewDefault} bytes`);
    console.log(`default cap: server sent ${sent} bytes, RSS grew ${(grewDefault / 1048576).toFixed(1)} MiB`);
    const e2 = await rejection(new NodeRpc({ url: declared.url, maxBytes: cap }).call('getblock', ['aa', 0]));
    named(e2, 'getblock', declared.where, 'too-large');
    assert.match(e2.message, /answer of 700000000 bytes is larger than the cap of 1048576 bytes .*not read/);
  } finally {
    await close(endless.server);
    await close(declared.server);
  }
});

/** A fake node serving a small synthetic chain (unknown genesis, chain "regtest"). */
function syntheticChain(n: number): Buffer[] {
  const blocks: Buffer[] = [];
  let prev: Buffer = Buffer.alloc(32);
  for (let h = 0; h < n; h++) {
    const b = buildBlock(
      prev,
      // 200 outputs: ~14 kB of hex per block, more than a 50-hash getblockhash answer (~5 kB).
      [
        coinbaseTx(
          h,
          Array.from({ length: 200 }, (_, k) => ({
            value: 1e6,
            script: p2pkhScript(Buffer.alloc(20, (h + k) & 255)),
          })),
        ),
      ],
      1_600_000_000 + h * 600,
    );
    blocks.push(b);
    prev = blockHash(b);
  }
  return blocks;
}

test('getblock batches past the cap are split (down to one block); a single block past the cap is an error', async () => {
  const blocks = syntheticChain(120);
  const hashes = blocks.map((b) => hashHex(blockHash(b)));
  const byHash = new Map(hashes.map((h, i) => [h, blocks[i]]));
  const calls: number[] = [];
  const n = await fakeNode((body, _req, res) => {
    const q = JSON.parse(body);
    if (Array.isArray(q) && q[0].method === 'getblock') calls.push(q.length);
    res.end(
      reply(body, (m, p) =>
        m === 'getblockchaininfo'
          ? { chain: 'regtest', blocks: blocks.length - 1, bestblockhash: hashes.at(-1) }
          : m === 'getblockhash'
            ? hashes[p[0] as number]
            : byHash.get(p[0] as string)!.toString('hex'),
      ),
    );
  });
  const store = await DuckDbChainStore.open(':memory:');
  try {
    // A cap of ten blocks' worth of hex per answer.
    const one = blocks[0].length * 2 + 100;
    const diag = new Diagnostics();
    const r = await ingestChain(
      store,
      NETWORKS.regtest,
      { kind: 'rpc', url: n.url, maxBytes: 10 * one },
      diag,
    );
    assert.equal(r.blocks, 120);
    assert.equal(r.tipHeight, 119);
    assert.equal(r.network, 'regtest');
    assert.match(r.networkFrom, /^--network; the node's genesis [0-9a-f]{64} is not a known one$/);
    // 50, 25 and 12 blocks pass the cap (ten blocks' worth) and are halved; 6 fits and stays.
    assert.equal(diag.get('chain.rpc_batches_split'), 3);
    assert.deepEqual(calls.slice(0, 4), [50, 25, 12, 6]);
    assert.ok(
      calls.slice(4).every((c) => c <= 6),
      calls.join(','),
    );
    // Without --network an unknown genesis is refused, naming it.
    const store2 = await DuckDbChainStore.open(':memory:');
    try {
      await assert.rejects(
        ingestChain(store2, undefined, { kind: 'rpc', url: n.url }, new Diagnostics()),
        new RegExp(
          `genesis block ${hashes[0]} \\(chain "regtest"\\) is not that of any network coinradar knows`,
        ),
      );
      // A cap below one block: an error naming getblock, not a loop.
      const e = await rejection(
        ingestChain(
          store2,
          NETWORKS.regtest,
          { kind: 'rpc', url: n.url, maxBytes: one - 200 },
          new Diagnostics(),
        ),
      );
      named(e, 'getblock', n.where, 'too-large');
    } finally {
      await store2.close();
    }
  } finally {
    await store.close();
    await close(n.server);
  }
});

test('chain ingest --rpc: a wrong-typed getblockchaininfo exits non-zero naming method, URL and field', async () => {
  const n = await fakeNode((body, _req, res) =>
    res.end(reply(body, () => ({ chain: 'main', blocks: null, bestblockhash: null }))),
  );
  const dir = mkdtempSync(join(tmpdir(), 'cr-rpc-cli-'));
  try {
    const r = await cliProcess(['chain', 'ingest', '--rpc', n.url, '--db', join(dir, 'db.duckdb')]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`getblockchaininfo at ${n.where.replace(/\./g, '\\.')}: field "blocks" is null`),
    );
    assert.doesNotMatch(r.stderr, /indexed 0 blocks|s3cret-pw/);
    // Bad option values are errors before any connection.
    const bad = await cliProcess([
      'chain',
      'ingest',
      '--rpc',
      n.url,
      '--rpc-timeout',
      '0',
      '--db',
      join(dir, 'db.duckdb'),
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--rpc-timeout takes a whole number above 0/);
    const notUrl = await cliProcess([
      'chain',
      'ingest',
      '--rpc',
      'http://cr:s3cret-pw@[nowhere',
      '--db',
      join(dir, 'db.duckdb'),
    ]);
    assert.notEqual(notUrl.code, 0);
    assert.match(notUrl.stderr, /the RPC URL is not a URL/);
    assert.doesNotMatch(notUrl.stderr, /s3cret-pw/);
  } finally {
    await close(n.server);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chain ingest of a file that is not a block (README.md) exits non-zero naming file and offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-raw-cli-'));
  try {
    const r = await cliProcess(['chain', 'ingest', 'README.md', '--db', join(dir, 'db.duckdb')]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /README\.md:\d+: not a block: /);
    assert.doesNotMatch(r.stderr, /indexed 0 blocks/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('JSON bombs under the byte cap (deep nesting, millions of values) are refused before parsing', async () => {
  // Strings are skipped whole, escaped quotes included: brackets and commas inside do not count.
  // Outside the strings: { , , [ , = five values, depth 2.
  const mixed = Buffer.from('{"a":"[[[[,,,,\\"[[[[","b":"\\\\","c":[1,2]}');
  assert.deepEqual(JSON.parse(mixed.toString()), { a: '[[[[,,,,"[[[[', b: '\\', c: [1, 2] });
  assert.equal(jsonOverBudget(mixed, 5, 2), null);
  assert.equal(jsonOverBudget(mixed, 4, 2), 'more than 4 JSON values');
  assert.equal(jsonOverBudget(Buffer.from('[[[1]]]'), 10, 2), 'nesting deeper than 2 levels');
  assert.equal(jsonOverBudget(Buffer.from('[1,2,3,4]'), 3, 2), 'more than 3 JSON values');
  let body = '';
  const n = await fakeNode((_b, _req, res) => res.end(body));
  try {
    const rpc = new NodeRpc({ url: n.url });
    for (const [bomb, why] of [
      ['['.repeat(5_000_000) + ']'.repeat(5_000_000), /nesting deeper than 64 levels/],
      ['{"result":[' + '0,'.repeat(10_000_000) + '0],"error":null,"id":1}', /more than 100000 JSON values/],
    ] as const) {
      body = bomb;
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      const e = await rejection(rpc.call('getblockchaininfo'));
      const ms = performance.now() - t0;
      const grew = process.memoryUsage().rss - rss0;
      named(e, 'getblockchaininfo', n.where, 'too-large');
      assert.match(e.message, why);
      assert.match(e.message, /; not parsed$/);
      assert.ok(ms < 3000, `${ms} ms`);
      assert.ok(grew < 128 * 1024 * 1024, `RSS grew by ${grew} bytes`);
      console.log(
        `${bomb.length} byte bomb refused in ${ms.toFixed(0)} ms, RSS +${(grew / 1048576).toFixed(1)} MiB`,
      );
    }
  } finally {
    await close(n.server);
  }
});
