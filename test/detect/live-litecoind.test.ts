/**
 * Bitcoin-family P2P and node RPC from real software: two `litecoind -regtest` peering on loopback
 * and litecoin-cli calling getblockchaininfo / getblocktemplate, captured by tshark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { tsharkFlows } from './tshark-flows.js';
import { captureLoopback, have, portBase, sleep, stopProcess, waitFor } from './live.js';

const missing = ['litecoind', 'litecoin-cli', 'tshark'].filter((c) => !have(c));
const skip = missing.length
  ? `${missing.join(', ')} not installed`
  : process.getuid?.() !== 0
    ? 'capturing on lo needs root'
    : false;

test(
  'litecoind -regtest peers: regtest magic, LTC by user agent, RPC getblocktemplate',
  { skip, timeout: 60000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-ltc-'));
    const base = portBase(1);
    const [p2p, rpc, p2pB, rpcB] = [base, base + 1, base + 2, base + 3];
    const file = join(dir, 'ltc.pcapng');
    const cap = await captureLoopback(`tcp port ${p2p} or tcp port ${rpc}`, file);
    const common = [
      '-regtest',
      '-listen=1',
      '-bind=127.0.0.1',
      '-dnsseed=0',
      '-upnp=0',
      '-discover=0',
      '-rpcuser=u',
      '-rpcpassword=p',
      '-rpcallowip=127.0.0.1',
      '-rpcbind=127.0.0.1',
      '-printtoconsole=0',
    ];
    const a = spawn('litecoind', [...common, `-datadir=${join(dir)}`, `-port=${p2p}`, `-rpcport=${rpc}`], {
      stdio: 'ignore',
    });
    const bDir = join(dir, 'b');
    spawnSync('mkdir', ['-p', bDir]);
    const cli = (...args: string[]) =>
      spawnSync('litecoin-cli', ['-regtest', '-rpcuser=u', '-rpcpassword=p', `-rpcport=${rpc}`, ...args], {
        encoding: 'utf8',
      });
    let b: ReturnType<typeof spawn> | null = null;
    try {
      assert.ok(await waitFor(() => cli('getblockchaininfo').status === 0, 20000), 'litecoind A answers RPC');
      b = spawn(
        'litecoind',
        [...common, `-datadir=${bDir}`, `-port=${p2pB}`, `-rpcport=${rpcB}`, `-connect=127.0.0.1:${p2p}`],
        { stdio: 'ignore' },
      );
      assert.ok(await waitFor(() => Number(cli('getconnectioncount').stdout) > 0, 20000), 'B connects to A');
      cli('getblocktemplate', '{"rules":["segwit","mweb"]}'); // an error answer (initial sync) is fine: the request is what counts
      await sleep(1500);
    } finally {
      if (b) await stopProcess(b, 'SIGTERM');
      await stopProcess(a, 'SIGTERM');
      await cap.stop();
    }
    try {
      const detector = createDetector(null);
      const flows = tsharkFlows(file);
      const p2pFlows = flows.filter((f) => f.dstPort === p2p);
      assert.ok(p2pFlows.length >= 1);
      const [d] = detectFlow(detector, p2pFlows[0]);
      assert.equal(d.label, 'bitcoin-p2p');
      assert.equal(d.confidence, 'payload');
      assert.equal(d.evidence.network, 'regtest');
      assert.equal(d.coin, 'LTC');
      assert.deepEqual(d.artifacts, [{ kind: 'client', value: '/LitecoinCore:0.21.2.1/' }]);
      const rpcLabels = flows
        .filter((f) => f.dstPort === rpc)
        .flatMap((f) =>
          detectFlow(detector, f).map((x) => `${x.label}:${(x.evidence.methods as string[]).join(',')}`),
        );
      assert.ok(rpcLabels.includes('node-rpc:getblockchaininfo'), rpcLabels.join(' '));
      assert.ok(rpcLabels.includes('getblocktemplate:getblocktemplate'), rpcLabels.join(' '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
