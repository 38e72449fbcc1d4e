import { FILTER_HELP } from './filter-option.js';
import type { Command } from 'commander';
import { parseConfidence } from '../detect/types.js';
import { openFlowStore } from '../store/open.js';
import type { HostProfile } from '../store/queries.js';
import { defaultDbPath } from '../store/store.js';
import { collect, existingStore, parseFormat, render } from './output.js';
import { parseDay, parsePorts, parseScope } from './series.js';

const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

/** A profile as a flat row: lists joined for tables and CSV, kept as arrays for JSON. */
function row(h: HostProfile, flat: boolean): Record<string, unknown> {
  const l = (x: (string | number)[]) => (flat ? x.join(' ') : x);
  return {
    host: h.host,
    country: h.country,
    asn: h.asn,
    first: iso(h.firstMs),
    last: iso(h.lastMs),
    first_strong: h.firstStrongMs === null ? '' : iso(h.firstStrongMs),
    last_strong: h.lastStrongMs === null ? '' : iso(h.lastStrongMs),
    flows: h.flows,
    sessions: h.sessions,
    hours_active: h.hoursActive,
    duty_cycle: Number(h.dutyCycle.toFixed(3)),
    packets_est: h.packetsEst,
    bytes_est: h.bytesEst,
    peers: h.peers,
    ports: l(h.ports),
    coins: l(h.coins),
    labels: l(h.labels),
    pools: l(h.pools),
    wallets: l(h.wallets),
    workers: l(h.workers),
    agents: l(h.agents),
  };
}

export function register(program: Command): void {
  program
    .command('hosts')
    .description(
      'host profiles: per internal host of a scope, first/last crypto activity, sessions, duty cycle, bytes, ports, coins, pools and artifacts',
    )
    .option('--db <file>', 'DuckDB file (or COINRADAR_DB)', defaultDbPath())
    .option(
      '--scope <key:value>',
      'country:KP, src-country:, dst-country:, asn:, watch:, host:, label: (repeatable, ANDed); the end it names is the internal host',
      collect,
      [],
    )
    .option(
      '--ports <list>',
      'server ports that count as crypto activity: "crypto", "none" or a list',
      'crypto',
    )
    .option('--labels <list>', 'only these detection labels count (default: every detection)')
    .option(
      '--min-confidence <c>',
      'port (default: ports, pool addresses and every detection) | behaviour | infrastructure | payload (only detections that good)',
      'port',
    )
    .option('--filter <nfdump>', FILTER_HELP)
    .option('--where <sql>', 'extra SQL condition over flow columns')
    .option('--from <date>', 'first day (UTC)')
    .option('--to <date>', 'day after the last (UTC)')
    .option('--session-gap <minutes>', 'flows to one endpoint this close together are one session', '10')
    .option('--limit <n>', 'most hosts listed (by bytes)', '50')
    .option('--format <f>', 'table | csv | jsonl | json', 'table')
    .action(
      async (o: {
        db: string;
        scope: string[];
        ports: string;
        labels?: string;
        minConfidence: string;
        filter?: string;
        where?: string;
        from?: string;
        to?: string;
        sessionGap: string;
        limit: string;
        format: string;
      }) => {
        const format = parseFormat(o.format);
        const gap = Number(o.sessionGap);
        if (!(gap >= 0)) throw new Error(`--session-gap: not a number of minutes: ${o.sessionGap}`);
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1)
          throw new Error(`--limit: not a positive integer: ${o.limit}`);
        const store = await openFlowStore(existingStore(o.db));
        try {
          const profiles = await store.hostProfiles({
            scope: parseScope(o.scope, undefined, o.where, o.filter),
            ports: parsePorts(o.ports),
            labels: o.labels?.split(',').map((x) => x.trim()),
            minConfidence: parseConfidence(o.minConfidence),
            sessionGapMs: gap * 60_000,
            fromMs: parseDay(o.from, '--from'),
            toMs: parseDay(o.to, '--to'),
            limit,
          });
          const flat = format === 'table' || format === 'csv';
          const rows = profiles.map((h) => row(h, flat));
          if (format === 'table' && rows.length === 0)
            process.stdout.write('no host with crypto activity in this scope\n');
          else process.stdout.write(render(rows, format) + '\n');
        } finally {
          await store.close();
        }
      },
    );
}
