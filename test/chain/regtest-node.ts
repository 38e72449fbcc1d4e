// A real litecoind -regtest for tests: own datadir in a temp dir, loopback RPC on a free port,
// no P2P listening. Also mines blocks with a chosen coinbase tag through submitblock (scrypt PoW
// at the regtest target, a couple of tries).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scryptSync } from 'node:crypto';
import { NodeRpc } from '../../src/chain/rpc.js';
import { buildBlock, coinbaseTx } from '../../src/chain/synthetic.js';
import { hashFromHex } from '../../src/chain/hash.js';

export function litecoindMissing(): string | null {
  const r = spawnSync('litecoind', ['-version'], { encoding: 'utf8' });
  return r.status === 0
    ? null
    : 'litecoind not installed (Debian package litecoind; scripts/install-test-deps.sh)';
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export class RegtestNode {
  private constructor(
    readonly datadir: string,
    readonly rpcUrl: string,
    private readonly proc: ChildProcess,
  ) {}

  static async start(): Promise<RegtestNode> {
    const datadir = mkdtempSync(join(tmpdir(), 'cr-ltc-'));
    const rpcPort = await freePort();
    const p2pPort = await freePort();
    const proc = spawn(
      'litecoind',
      [
        '-regtest',
        `-datadir=${datadir}`,
        `-rpcport=${rpcPort}`,
        `-port=${p2pPort}`,
        '-listen=0',
        '-rpcbind=127.0.0.1',
        '-rpcallowip=127.0.0.1',
        '-rpcuser=cr',
        '-rpcpassword=regtest',
        '-fallbackfee=0.0002',
        '-dnsseed=0',
        '-printtoconsole=0',
      ],
      { stdio: 'ignore' },
    );
    const node = new RegtestNode(datadir, `http://cr:regtest@127.0.0.1:${rpcPort}`, proc);
    const rpc = node.rpc();
    for (let i = 0; ; i++) {
      try {
        await rpc.call('getblockchaininfo');
        break;
      } catch (e) {
        if (i > 150 || proc.exitCode !== null)
          throw new Error(`litecoind did not come up: ${(e as Error).message}`, { cause: e });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return node;
  }

  rpc(wallet?: string): NodeRpc {
    return new NodeRpc({ url: wallet ? `${this.rpcUrl}/wallet/${wallet}` : this.rpcUrl });
  }

  get blocksDir(): string {
    return join(this.datadir, 'regtest', 'blocks');
  }

  /** Mine one block whose coinbase carries `tag` and pays `script` (no other transactions). */
  async mineTagged(script: Buffer, tag: string): Promise<string> {
    const rpc = this.rpc();
    const tipHash = await rpc.call<string>('getbestblockhash');
    const tip = await rpc.call<{ height: number; mediantime: number; time: number }>('getblockheader', [
      tipHash,
    ]);
    const cb = coinbaseTx(tip.height + 1, [{ value: 50e8, script }], tag);
    const block = buildBlock(hashFromHex(tipHash), [cb], Math.max(tip.time, tip.mediantime) + 1);
    // scrypt(N=1024, r=1, p=1) of the header must be ≤ the regtest target 0x7fffff << 232.
    for (let nonce = 0; ; nonce++) {
      block.writeUInt32LE(nonce, 76);
      const h = scryptSync(block.subarray(0, 80), block.subarray(0, 80), 32, { N: 1024, r: 1, p: 1 });
      if (h[31] < 0x7f) break;
    }
    const r = await rpc.call<string | null>('submitblock', [block.toString('hex')]);
    if (r !== null) throw new Error(`submitblock: ${r}`);
    return rpc.call<string>('getbestblockhash');
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      try {
        await this.rpc().call('stop');
      } catch {
        this.proc.kill('SIGTERM');
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.datadir, { recursive: true, force: true });
  }
}
