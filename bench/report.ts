/** The small helpers the outage benches share: a pause, a number as people read it, a line out, the load. */
import { loadavg } from 'node:os';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
export const say = (s: string) => process.stdout.write(`${s}\n`);
/** The load averages (1, 5, 15 min), as uptime prints them. */
export const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
