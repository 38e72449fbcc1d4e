import type { Command } from 'commander';
import { writeIp } from '../flow/record.js';
import { loadWatchTable } from '../geo/watchlist.js';
import { defaultDbPath } from '../store/store.js';
import { sharedGeoDatabase } from './enricher.js';
import { registerGeoData } from './geo-data.js';
import { parseFormat, render } from './output.js';

export function register(program: Command): void {
  const geo = program
    .command('geo')
    .description(
      'country, AS number, AS organisation and watchlist of IP addresses (offline data); geo import/info/reset: the data a store uses',
    )
    .argument('<ip...>', 'IPv4 or IPv6 addresses')
    .option(
      '--db <file>',
      'the store whose imported geo data to use or change, if it has any (or COINRADAR_DB)',
      defaultDbPath(),
    )
    .option('--watchlist <file>', 'extra CIDR watchlist file (name,cidr per line)')
    .option('--format <f>', 'table | csv | jsonl | json', 'table')
    .action((ips: string[], o: { db: string; watchlist?: string; format: string }) => {
      const format = parseFormat(o.format);
      const db = sharedGeoDatabase(o.db);
      const watch = loadWatchTable(o.watchlist ? [o.watchlist] : []);
      const buf = new Uint8Array(16);
      const rows: Record<string, unknown>[] = [];
      let bad = 0;
      for (const ip of ips) {
        let v: 4 | 6;
        try {
          v = writeIp(buf, 0, ip);
        } catch (e) {
          process.stderr.write(`coinradar geo: ${e instanceof Error ? e.message : String(e)}\n`);
          bad++;
          continue;
        }
        const g = db.lookupBytes(buf, 0, v);
        rows.push({
          ip,
          country: g.country,
          asn: g.asn,
          org: g.org,
          watchlist: watch.names[watch.listBytes(buf, 0, v)],
        });
      }
      if (rows.length)
        process.stdout.write(render(rows, format, ['ip', 'country', 'asn', 'org', 'watchlist']) + '\n');
      if (bad) process.exitCode = 1;
    });
  registerGeoData(geo);
}
