/** Real peers on loopback for the live tests: a tshark capture and daemons that are always stopped. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** A port base unlikely to collide with another test run (derived from the pid). */
export function portBase(offset: number): number {
  return 30000 + ((process.pid * 7 + offset) % 2000) * 10;
}

export interface Capture {
  stop(): Promise<void>;
}

/** Start `tshark -i lo -f FILTER -w FILE` and resolve once it is capturing. */
export async function captureLoopback(filter: string, file: string): Promise<Capture> {
  const p = spawn('tshark', ['-i', 'lo', '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`tshark did not start: ${err}`)), 15000);
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Capturing on')) {
        clearTimeout(t);
        resolve();
      }
    });
    p.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`tshark exited ${code}: ${err}`));
    });
  });
  return { stop: () => stopProcess(p) };
}

export function stopProcess(p: ChildProcess, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => p.kill('SIGKILL'), 10000);
    p.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    p.kill(signal);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns true or `ms` pass. */
export async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(250);
  }
  return check();
}
