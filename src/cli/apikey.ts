import type { Command } from 'commander';
import { ApiKeyFile, keysPathFor } from '../server/keys.js';
import { defaultDbPath } from '../store/store.js';
import { parseFormat, render } from './output.js';

export function register(program: Command): void {
  const cmd = program
    .command('apikey')
    .description('API keys for `coinradar serve` (only hashes are stored, in <db>.keys.json)');
  cmd
    .command('create')
    .description('create a key; it is printed once')
    .argument('<name>', 'who the key is for (shown in the audit log)')
    .option('--db <file>', 'DuckDB file the server uses (or COINRADAR_DB)', defaultDbPath())
    .action((name: string, o: { db: string }) => {
      const { key, record } = new ApiKeyFile(keysPathFor(o.db)).create(name);
      process.stdout.write(`${key}\n`);
      process.stderr.write(`created key ${record.id} for ${name}; store it now, it cannot be shown again\n`);
    });
  cmd
    .command('list')
    .description('keys with id, name, created and revoked times (never the keys)')
    .option('--db <file>', 'DuckDB file the server uses (or COINRADAR_DB)', defaultDbPath())
    .option('--format <f>', 'table | csv | json | jsonl', 'table')
    .action((o: { db: string; format: string }) => {
      const rows = new ApiKeyFile(keysPathFor(o.db))
        .list()
        .map((r) => ({ id: r.id, name: r.name, created: r.createdAt, revoked: r.revokedAt ?? '' }));
      process.stdout.write(render(rows, parseFormat(o.format)) + '\n');
    });
  cmd
    .command('revoke')
    .description('revoke a key (a running server stops accepting it within a second)')
    .argument('<id>')
    .option('--db <file>', 'DuckDB file the server uses (or COINRADAR_DB)', defaultDbPath())
    .action((id: string, o: { db: string }) => {
      const r = new ApiKeyFile(keysPathFor(o.db)).revoke(id);
      process.stdout.write(`revoked ${r.id} (${r.name}) at ${r.revokedAt}\n`);
    });
}
