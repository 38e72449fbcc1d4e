import { redact } from '../store/clickhouse/connection.js';
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { exportFindings, type ExportFindings } from '../export/findings.js';
import { buildMispEvent } from '../export/misp.js';
import { buildStixBundle, TLP_MARKINGS, type Tlp } from '../export/stix.js';
import { buildZeekIntel } from '../export/zeek-intel.js';
import { existingDetections } from '../store/detections.js';
import { openFlowStore } from '../store/open.js';
import { openNetworkReader } from '../store/reader.js';
import { defaultDbPath } from '../store/store.js';
import { collect, existingStore } from './output.js';
import { parseDay, parseScope, windowOption } from './series.js';

interface ExportOpts {
  db: string;
  scope: string[];
  where?: string;
  since?: string;
  until?: string;
  output?: string;
  tlp: string;
  producer: string;
  objects?: boolean;
}

function common(cmd: Command): Command {
  return cmd
    .option(
      '--db <file>',
      'DuckDB file or clickhouse://USER:PASSWORD@HOST:PORT/DATABASE store (or COINRADAR_DB)',
      defaultDbPath(),
    )
    .option('--scope <key:value>', 'country:KP, asn:, watch:, host:, label: (repeatable, ANDed)', collect, [])
    .option('--where <sql>', 'extra SQL condition over flow columns')
    .option('--since <date>', 'first day (UTC); default: the first flow with a plausible time')
    .option('--until <date>', 'day after the last (UTC); default: the last flow')
    .option('-o, --output <file>', 'write to this file (default: standard output)')
    .option('--tlp <level>', 'TLP marking: white | green | amber | red', 'amber')
    .option('--producer <name>', 'the producing organisation or system named in the export', 'coinradar');
}

async function findings(o: ExportOpts): Promise<ExportFindings> {
  if (!Object.hasOwn(TLP_MARKINGS, o.tlp))
    throw new Error(`--tlp: expected white, green, amber or red, found ${o.tlp}`);
  const scope = parseScope(o.scope, undefined, o.where);
  const fromMs = parseDay(windowOption(o.since, undefined, '--since'), '--since');
  const toMs = parseDay(windowOption(o.until, undefined, '--until'), '--until');
  const store = await openFlowStore(existingStore(o.db));
  try {
    return await exportFindings(await openNetworkReader(store), await existingDetections(store), {
      scope,
      scopeText: o.scope.join(' AND ') || 'all flows',
      scopeArgs: `--db ${redact(o.db)} ${o.scope.map((s) => `--scope ${s}`).join(' ')}`.trim(),
      fromMs,
      toMs,
    });
  } finally {
    await store.close();
  }
}

function write(o: ExportOpts, text: string, summary: string): void {
  if (o.output) {
    writeFileSync(o.output, text);
    process.stderr.write(`${o.output}: ${summary}\n`);
  } else process.stdout.write(text);
}

export function register(program: Command): void {
  const exp = program
    .command('export')
    .description("share a scope's findings: a STIX 2.1 bundle, a MISP event or a Zeek Intel file");
  common(
    exp
      .command('stix')
      .description('a STIX 2.1 bundle: identity, report with onsets, pools, indicators, sightings, wallets'),
  ).action(async (o: ExportOpts) => {
    const f = await findings(o);
    const b = buildStixBundle(f, { producer: o.producer, tlp: o.tlp as Tlp });
    const n = (t: string) => b.objects.filter((x) => x.type === t).length;
    write(
      o,
      JSON.stringify(b, null, 2) + '\n',
      `STIX 2.1 bundle of ${b.objects.length} objects: ${n('indicator')} indicators, ${n('infrastructure')} infrastructure, ${n('sighting')} sightings, ${n('observed-data')} observed-data, ${n('cryptocurrency-wallet')} wallets, ${n('relationship')} relationships (TLP:${o.tlp.toUpperCase()})`,
    );
  });
  common(
    exp
      .command('misp')
      .description('a MISP event (JSON) with typed attributes; --objects adds ip-port and domain-ip objects'),
  )
    .option(
      '--objects',
      "add MISP objects (MISP's strict event schema has no place for them; the lax one does)",
    )
    .action(async (o: ExportOpts) => {
      const e = buildMispEvent(await findings(o), {
        producer: o.producer,
        tlp: o.tlp as Tlp,
        objects: o.objects,
      });
      const byType = new Map<string, number>();
      for (const a of e.Event.Attribute) byType.set(a.type, (byType.get(a.type) ?? 0) + 1);
      write(
        o,
        JSON.stringify(e, null, 2) + '\n',
        `MISP event ${e.Event.uuid}: ${e.Event.Attribute.length} attributes (${[...byType].map(([t, k]) => `${t} ${k}`).join(', ')})${o.objects ? `, ${e.Event.Object?.length ?? 0} objects` : ''}`,
      );
    });
  common(
    exp
      .command('zeek-intel')
      .description('a Zeek Intel framework file: pool addresses (Intel::ADDR) and servers (Intel::DOMAIN)'),
  ).action(async (o: ExportOpts) => {
    const text = buildZeekIntel(await findings(o), { source: o.producer });
    write(o, text, `Zeek Intel file of ${text.split('\n').length - 2} indicators`);
  });
}
