import type { Command } from 'commander';
import { loadScreeningIndex } from '../sanctions/index-loader.js';
import { buildServer, DEFAULT_BODY_LIMIT, DEFAULT_MAX_BATCH } from '../server/app.js';
import { AuditLog, auditPathFor } from '../server/audit.js';
import { ApiKeyFile, keysPathFor } from '../server/keys.js';
import { defaultDbPath } from '../store/store.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description(
      'HTTP screening API (POST /v1/screen, GET /v1/screen/:address, GET /v1/lists, /openapi.json)',
    )
    .option('--db <file>', 'DuckDB file with the sanctions lists (or COINRADAR_DB)', defaultDbPath())
    .option('--host <addr>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port', '8787')
    .option('--allow-anonymous', 'serve /v1 without an API key (off unless given)')
    .option('--body-limit <bytes>', 'largest request body', String(DEFAULT_BODY_LIMIT))
    .option('--max-batch <n>', 'most addresses in one POST /v1/screen', String(DEFAULT_MAX_BATCH))
    .option('--rate <n>', 'requests per second per key (0 = unlimited)', '200')
    .option('--burst <n>', 'burst per key (default 2 × rate)')
    .option('--audit <file>', 'audit log (JSON lines)', '')
    .option('--log', 'fastify request logging to stderr')
    .action(
      async (o: {
        db: string;
        host: string;
        port: string;
        allowAnonymous?: boolean;
        bodyLimit: string;
        maxBatch: string;
        rate: string;
        burst?: string;
        audit: string;
        log?: boolean;
      }) => {
        const index = await loadScreeningIndex(o.db);
        if (index.versions.length === 0)
          process.stderr.write(`warning: no sanctions list in ${o.db}; every address will screen clean\n`);
        const keys = new ApiKeyFile(keysPathFor(o.db));
        keys.watch();
        if (!o.allowAnonymous && keys.list().filter((k) => !k.revokedAt).length === 0) {
          process.stderr.write(
            'warning: no API keys yet: create one with `coinradar apikey create <name>`\n',
          );
        }
        const audit = new AuditLog(o.audit || auditPathFor(o.db));
        const app = buildServer({
          index,
          keys,
          audit,
          allowAnonymous: !!o.allowAnonymous,
          bodyLimit: Number(o.bodyLimit),
          maxBatch: Number(o.maxBatch),
          rate: Number(o.rate),
          burst: o.burst ? Number(o.burst) : undefined,
          logger: !!o.log,
        });
        const addr = await app.listen({ host: o.host, port: Number(o.port) });
        process.stderr.write(
          `coinradar serve: ${addr}, ${index.size} listed addresses from ${index.versions.map((v) => `${v.list} v${v.versionId} (${v.published ?? 'unknown'})`).join(', ') || 'no list'}; ` +
            `${o.allowAnonymous ? 'ANONYMOUS ACCESS ALLOWED' : 'API key required'}; audit → ${audit.path}\n`,
        );
        const stop = async () => {
          await app.close();
          await audit.close();
          keys.stop();
          process.exit(0);
        };
        process.once('SIGINT', () => void stop());
        process.once('SIGTERM', () => void stop());
      },
    );
}
