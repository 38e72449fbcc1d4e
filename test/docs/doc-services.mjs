// Loopback peers for docs/chain-usage.md's doc test, as separate processes (the doc runner blocks
// while a command runs, so it cannot answer requests itself). Plain JS: it runs from the page's
// temp dir, where no TypeScript loader resolves.
//   node doc-services.mjs litecoind DIR PORT   start litecoind -regtest (datadir DIR, RPC on PORT) and mine 3 blocks
//   node doc-services.mjs stop PORT            stop that node and wait for it to exit
//   node doc-services.mjs fakes SILENT NULL    a server that accepts and never answers, and a fake
//                                              node whose getblockchaininfo says "blocks": null
//   node doc-services.mjs teardown             end what this file started in the current directory
// Processes started here are recorded in ./.doctest-pids; teardown ends exactly those.
/* global process, Buffer, AbortSignal, URL, fetch, setTimeout, clearTimeout, setInterval */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { resolve } from 'node:path';

const PIDS = '.doctest-pids';
// A fixed key (a P2WPKH of twenty 0x5a bytes), so the page's address is the same every run.
const MINER = 'rltc1qtfd95kj6tfd95kj6tfd95kj6tfd95kj670wn8x';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function rpc(port, method, params = []) {
  const r = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('cr:regtest').toString('base64')}` },
    body: JSON.stringify({ jsonrpc: '1.0', id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const j = await r.json();
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}

async function litecoind(dir, port) {
  const datadir = resolve(dir);
  mkdirSync(datadir, { recursive: true });
  const args = ['-regtest', `-datadir=${datadir}`, `-rpcport=${port}`, '-listen=0', '-rpcbind=127.0.0.1'];
  args.push(
    '-rpcallowip=127.0.0.1',
    '-rpcuser=cr',
    '-rpcpassword=regtest',
    '-dnsseed=0',
    '-printtoconsole=0',
  );
  const p = spawn('litecoind', args, { stdio: 'ignore', detached: true });
  appendFileSync(PIDS, `${p.pid} litecoind ${port}\n`);
  p.unref();
  for (let i = 0; ; i++) {
    try {
      await rpc(port, 'getblockchaininfo');
      break;
    } catch (e) {
      if (i > 300)
        throw new Error(`litecoind did not come up on 127.0.0.1:${port}: ${e.message}`, { cause: e });
      await sleep(100);
    }
  }
  await rpc(port, 'generatetoaddress', [3, MINER]);
}

async function stop(port) {
  const line = readFileSync(PIDS, 'utf8')
    .split('\n')
    .find((l) => l.endsWith(` litecoind ${port}`));
  if (!line) throw new Error(`no litecoind on ${port} was started here`);
  const pid = Number(line.split(' ')[0]);
  await rpc(port, 'stop').catch(() => process.kill(pid, 'SIGTERM'));
  for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
  if (alive(pid)) throw new Error(`litecoind ${pid} did not stop`);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function fakes(silentPort, nullPort) {
  // Re-run this file detached as the server process, and wait until both ports answer.
  const p = spawn(
    process.execPath,
    [new URL(import.meta.url).pathname, 'serve-fakes', silentPort, nullPort],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    },
  );
  appendFileSync(PIDS, `${p.pid} fakes\n`);
  return new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error('fake servers did not start')), 10_000);
    p.stdout.once('data', () => {
      clearTimeout(t);
      p.stdout.destroy();
      p.unref();
      ok();
    });
  });
}

function serveFakes(silentPort, nullPort) {
  const held = [];
  const silent = createTcpServer((s) => held.push(s)); // accepts, reads, never answers
  const fake = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ result: { chain: 'regtest', blocks: null, bestblockhash: '' }, error: null, id: 1 }),
      );
    });
  });
  let up = 0;
  const ready = () => ++up === 2 && process.stdout.write('ready\n');
  silent.listen(Number(silentPort), '127.0.0.1', ready);
  fake.listen(Number(nullPort), '127.0.0.1', ready);
  // Bounded: ends by itself if teardown never comes.
  setTimeout(() => process.exit(0), 600_000).unref();
  setInterval(() => {}, 60_000);
}

function teardown() {
  if (!existsSync(PIDS)) return;
  for (const line of readFileSync(PIDS, 'utf8').split('\n').filter(Boolean)) {
    const pid = Number(line.split(' ')[0]);
    if (alive(pid)) process.kill(pid, 'SIGTERM');
  }
  rmSync(PIDS);
}

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'litecoind') await litecoind(a, b);
else if (cmd === 'stop') await stop(a);
else if (cmd === 'fakes') await fakes(a, b);
else if (cmd === 'serve-fakes') serveFakes(a, b);
else if (cmd === 'teardown') teardown();
else {
  process.stderr.write(`doc-services: unknown command ${cmd}\n`);
  process.exit(2);
}
