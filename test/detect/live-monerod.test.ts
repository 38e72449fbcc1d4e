/**
 * Monero P2P (Levin) from real software: two `monerod --regtest` peering on loopback, captured by
 * tshark. DNS checkpoints and update checks are off so nothing leaves the machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDetector, detectFlow } from '../../src/detect/registry.js';
import { tsharkFlows } from './tshark-flows.js';
import { captureLoopback, have, portBase, stopProcess, waitFor } from './live.js';
import { statSync } from 'node:fs';

const missing = ['monerod', 'tshark'].filter((c) => !have(c));
const skip = missing.length
  ? `${missing.join(', ')} not installed`
  : process.getuid?.() !== 0
    ? 'capturing on lo needs root'
    : false;

test(
  'two monerod --regtest peers speak Levin: handshake found with the Monero network id',
  { skip, timeout: 90000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-xmr-'));
    const base = portBase(2);
    const file = join(dir, 'xmr.pcapng');
    const cap = await captureLoopback(`tcp port ${base}`, file);
    const common = [
      '--regtest',
      '--no-zmq',
      '--no-igd',
      '--non-interactive',
      '--allow-local-ip',
      '--disable-dns-checkpoints',
      '--check-updates',
      'disabled',
      '--p2p-bind-ip',
      '127.0.0.1',
      '--rpc-bind-ip',
      '127.0.0.1',
      '--log-level',
      '0',
    ];
    const a = spawn(
      'monerod',
      [
        ...common,
        '--data-dir',
        join(dir, 'a'),
        '--p2p-bind-port',
        String(base),
        '--rpc-bind-port',
        String(base + 1),
      ],
      { stdio: 'ignore' },
    );
    const b = spawn(
      'monerod',
      [
        ...common,
        '--data-dir',
        join(dir, 'b'),
        '--p2p-bind-port',
        String(base + 2),
        '--rpc-bind-port',
        String(base + 3),
        '--add-exclusive-node',
        `127.0.0.1:${base}`,
      ],
      { stdio: 'ignore' },
    );
    try {
      // Levin handshake traffic lands in the capture within seconds of both daemons starting.
      await waitFor(() => {
        try {
          return statSync(file).size > 2000;
        } catch {
          return false;
        }
      }, 60000);
    } finally {
      await Promise.all([stopProcess(a, 'SIGTERM'), stopProcess(b, 'SIGTERM')]);
      await cap.stop();
    }
    try {
      const flows = tsharkFlows(file).filter((f) => f.dstPort === base || f.srcPort === base);
      assert.ok(flows.length >= 1, 'a P2P connection was captured');
      const dets = flows.flatMap((f) => detectFlow(createDetector(null), f));
      const levin = dets.filter((d) => d.label === 'monero-p2p');
      assert.ok(levin.length >= 1, JSON.stringify(dets));
      assert.equal(levin[0].confidence, 'payload');
      assert.equal(levin[0].coin, 'XMR');
      assert.ok((levin[0].evidence.commands as string[]).includes('handshake'));
      assert.equal(levin[0].evidence.networkId, '1230f171610441611731008216a1a110'); // regtest runs with the mainnet id
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'Stratum from real software on loopback',
  {
    skip: 'no Stratum miner or pool is packaged in Debian (apt-cache search miner|stratum|xmrig|ckpool finds none); Stratum is tested on the captured real sessions instead',
  },
  () => {},
);
