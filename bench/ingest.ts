/**
 * The ingest benchmark of the foundation, in one run: coinradar against nfdump and tshark on the same
 * inputs.
 *  (a) NetFlow v9 decode alone; decode + enrich + store into DuckDB, against nfcapd receiving the
 *      same stream and `nfdump -r` reading it back; the live collector at a paced 300 k flows/s
 *      (bench/netflow.ts parts a, b, c);
 *  (b) a few hundred MB of pcap → flows, against `tshark -q -z conv,tcp` on the same file
 *      (bench/capture.ts).
 * Usage: node --import tsx bench/ingest.ts [--flows 1500000] [--rate 300000] [--seconds 5] [--pcap-mb 400]
 * Each part runs in its own process (so one's heap does not slow the other), one after the other.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const flows = arg('flows', '1500000');
const rate = arg('rate', '300000');
const seconds = arg('seconds', '5');
const pcapMb = arg('pcap-mb', '400');

const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`machine: ${cpus().length} CPUs, ${cpus()[0]?.model}; node ${process.version}; load ${load()}`);

const parts: [string, string[]][] = [
  [
    'NetFlow (a) decode, (b) decode + enrich + DuckDB vs nfcapd/nfdump, (c) live collector',
    ['bench/netflow.ts', flows, rate, seconds, 'abc'],
  ],
  ['pcap → flows vs tshark', ['bench/capture.ts', pcapMb]],
];
let failed = 0;
for (const [title, args] of parts) {
  console.log(`\n== ${title}: node --import tsx ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`(exit status ${r.status ?? r.signal})`);
  }
}
console.log(`\nload at the end: ${load()}`);
process.exit(failed ? 1 : 0);
