// `--cluster NAME` on every command that opens the flow store: folded into the --db value as
// `?cluster=NAME` before the command runs, so that each command passes one value to
// openFlowStore as before (src/store/clickhouse/connection.ts withCluster). The commands that
// open DuckDB directly (screen, indicators, chain, …) are not listed: they are not on ClickHouse.
import type { Command } from 'commander';
import { withCluster } from '../store/clickhouse/connection.js';

const STORE_COMMANDS = new Set([
  'ingest',
  'collect',
  'flows',
  'summary',
  'detect',
  'detections',
  'artifacts',
  'series',
  'surge',
  'hosts',
  'scenario',
  'report',
  'serve',
  'export',
  'estimate',
]);

export function addClusterOption(program: Command): void {
  // A command's subcommands too (export stix | misp | zeek-intel).
  const commands = program.commands
    .filter((c) => STORE_COMMANDS.has(c.name()))
    .flatMap((c) => [c, ...c.commands]);
  for (const c of commands) {
    if (!c.options.some((o) => o.long === '--db')) continue;
    c.option(
      '--cluster <name>',
      'ClickHouse cluster (remote_servers): local tables on every shard, Distributed tables over them',
    );
    c.hook('preAction', (cmd) => {
      const o = cmd.opts<{ db?: string; cluster?: string }>();
      if (o.cluster !== undefined) cmd.setOptionValue('db', withCluster(o.db ?? '', o.cluster));
    });
  }
}
