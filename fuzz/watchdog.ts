/**
 * Hang detection. A parser stuck in a synchronous loop cannot be interrupted from its own thread,
 * so a worker thread watches a heartbeat in shared memory: before each execution the fuzzer copies
 * the input there and bumps the execution counter. When the counter has not moved for `hangMs`,
 * the worker saves the input as a reproducer, says so on stderr and kills the process (SIGKILL:
 * the stuck thread would never run an exit handler).
 */
import { Worker } from 'node:worker_threads';
import { MAX_INPUT } from './mutate.js';

// Plain JS, run with eval: the worker needs no TypeScript and no project imports. Its interval
// keeps the worker alive; the Worker object is unref()ed, so the process does not wait for it.
const WORKER = `
const { workerData } = require('node:worker_threads');
const { writeFileSync, writeSync, mkdirSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { join } = require('node:path');
const ctl = new Int32Array(workerData.ctl);
const data = new Uint8Array(workerData.data);
let lastCount = -1;
let since = Date.now();
setInterval(() => {
  const running = Atomics.load(ctl, 0);
  const count = Atomics.load(ctl, 1);
  if (!running || count !== lastCount) { lastCount = count; since = Date.now(); return; }
  if (Date.now() - since < workerData.hangMs) return;
  const input = Buffer.from(data.subarray(0, Atomics.load(ctl, 2)));
  const name = workerData.target + '-hang-' + createHash('sha256').update(input).digest('hex').slice(0, 12) + '.bin';
  mkdirSync(workerData.dir, { recursive: true });
  const path = join(workerData.dir, name);
  writeFileSync(path, input);
  // fd 2 directly: a worker's process.stderr goes through the (stuck) main thread.
  writeSync(2, 'fuzz: ' + workerData.target + ': execution ' + count + ' ran over ' + workerData.hangMs + ' ms; input saved to ' + path + '\\n');
  process.kill(process.pid, 'SIGKILL');
}, 100);
`;

export class Watchdog {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(12));
  private readonly data = new Uint8Array(new SharedArrayBuffer(MAX_INPUT));
  private readonly worker: Worker;

  constructor(target: string, findingsDir: string, hangMs: number) {
    this.worker = new Worker(WORKER, {
      eval: true,
      // Not the parent's flags: --input-type=module or a loader would turn the eval into ESM.
      execArgv: [],
      workerData: { ctl: this.ctl.buffer, data: this.data.buffer, target, dir: findingsDir, hangMs },
    });
    this.worker.unref();
  }

  /** Called before each execution. */
  enter(input: Buffer): void {
    const n = Math.min(input.length, this.data.length);
    this.data.set(input.subarray(0, n));
    Atomics.store(this.ctl, 2, n);
    Atomics.add(this.ctl, 1, 1);
    Atomics.store(this.ctl, 0, 1);
  }

  leave(): void {
    Atomics.store(this.ctl, 0, 0);
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
