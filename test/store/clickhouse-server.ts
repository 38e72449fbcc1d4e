// A real ClickHouse server for the tests: Debian's clickhouse-server (18.16), run as the current
// user on free loopback ports with a config written into a temp dir (no system service), and a
// user with a password so that the tests see it is never printed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SERVER_BIN = 'clickhouse-server';
export const PASSWORD = 'pa55:w/rd@#';

export function haveServer(): boolean {
  return spawnSync('sh', ['-c', `command -v ${SERVER_BIN}`]).status === 0;
}

/** chDB can be loaded here (its package and its 500 MB library installed). */
export async function haveChdb(): Promise<string | null> {
  try {
    await import('chdb');
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface RunningServer {
  /** The store URL with the password in it. */
  url: string;
  httpPort: number;
  dir: string;
  /** The server's process id (the bench reads its CPU time). */
  pid: number;
  stop(): Promise<void>;
}

/** Start a server; resolves once it answers `SELECT 1` (at most 30 s). */
export async function startServer(database = 'coinradar'): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'coinradar-ch-'));
  const httpPort = await freeTcpPort();
  const tcpPort = await freeTcpPort();
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <mark_cache_size>67108864</mark_cache_size>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <coin><password>${PASSWORD.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></coin>
  </users>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <quotas><default></default></quotas>
</yandex>
`,
  );
  const proc: ChildProcess = spawn(SERVER_BIN, [`--config-file=${join(dir, 'config.xml')}`], {
    stdio: 'ignore',
  });
  // A test process that dies (or is ended by --test-force-exit) takes its server with it.
  const orphan = () => proc.kill('SIGKILL');
  process.once('exit', orphan);
  const url = `clickhouse://coin:${encodeURIComponent(PASSWORD)}@127.0.0.1:${httpPort}/${database}`;
  const stop = async () => {
    process.removeListener('exit', orphan);
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          proc.kill('SIGKILL');
          r();
        }, 10_000);
        proc.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${httpPort}/?query=SELECT%201`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || Date.now() > until) {
      await stop();
      throw new Error(`clickhouse-server did not start (exit ${proc.exitCode}); see its log in ${dir}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, httpPort, dir, pid: proc.pid!, stop };
}
