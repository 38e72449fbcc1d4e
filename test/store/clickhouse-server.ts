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

async function freeTcpPort(host = '127.0.0.1', port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, host, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A port free on every one of these loopback addresses (a cluster's hosts share their ports). */
async function portFreeOn(hosts: string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freeTcpPort(hosts[0]);
    try {
      for (const h of hosts.slice(1)) await freeTcpPort(h, port);
      return port;
    } catch {
      // taken on another address: try another
    }
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}

export interface ServerOptions {
  /** Loopback address to listen on (127.0.0.1; a cluster's servers 127.0.0.2 and .3). */
  host?: string;
  httpPort?: number;
  tcpPort?: number;
  /** `remote_servers`: a cluster of this name, one shard per host (all on tcpPort). */
  cluster?: { name: string; hosts: string[] };
}

export interface RunningServer {
  /** The store URL with the password in it. */
  url: string;
  httpPort: number;
  dir: string;
  /** The server's process id (the bench reads its CPU time; a new one after `restart`). */
  pid: number;
  stop(): Promise<void>;
  /**
   * The server goes away (SIGKILL: a crash, or SIGTERM) and, after `downMs`, starts again on the
   * same ports and data; resolves once it answers again.
   */
  restart(downMs: number, signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

/** Start a server; resolves once it answers `SELECT 1` (at most 30 s). */
export async function startServer(database = 'coinradar', o: ServerOptions = {}): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'coinradar-ch-'));
  const host = o.host ?? '127.0.0.1';
  const httpPort = o.httpPort ?? (await freeTcpPort(host));
  const tcpPort = o.tcpPort ?? (await freeTcpPort(host));
  // The shards query each other as `coin` (18.16's Distributed tables connect as the user named
  // here, not as the one asking), from their loopback addresses.
  const shards = o.cluster
    ? `<remote_servers><${o.cluster.name}>${o.cluster.hosts
        .map(
          (h) =>
            `<shard><replica><host>${h}</host><port>${tcpPort}</port><user>coin</user><password>${xml(PASSWORD)}</password></replica></shard>`,
        )
        .join('')}</${o.cluster.name}></remote_servers>`
    : '';
  const nets = o.cluster ? '<ip>127.0.0.0/8</ip>' : '<ip>127.0.0.1</ip>';
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>${host}</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <mark_cache_size>67108864</mark_cache_size>
  <users>
    <default><password></password><networks>${nets}</networks><profile>default</profile><quota>default</quota></default>
    <coin><password>${xml(PASSWORD)}</password><networks>${nets}</networks><profile>default</profile><quota>default</quota></coin>
  </users>
  ${shards}
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <quotas><default></default></quotas>
</yandex>
`,
  );
  const spawnServer = () =>
    spawn(SERVER_BIN, [`--config-file=${join(dir, 'config.xml')}`], {
      stdio: 'ignore',
    });
  let proc: ChildProcess = spawnServer();
  // A test process that dies (or is ended by --test-force-exit) takes its server with it.
  const orphan = () => proc.kill('SIGKILL');
  process.once('exit', orphan);
  const url = `clickhouse://coin:${encodeURIComponent(PASSWORD)}@${host}:${httpPort}/${database}`;
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
  const answering = async () => {
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        const r = await fetch(`http://${host}:${httpPort}/?query=SELECT%201`);
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
  };
  await answering();
  const running: RunningServer = {
    url,
    httpPort,
    dir,
    pid: proc.pid!,
    stop,
    restart: async (downMs, signal = 'SIGKILL') => {
      const old = proc;
      if (old.exitCode === null && old.signalCode === null) {
        const gone = new Promise<void>((r) => old.once('exit', () => r()));
        old.kill(signal);
        await gone;
      }
      await new Promise((r) => setTimeout(r, downMs));
      proc = spawnServer();
      running.pid = proc.pid!;
      await answering();
    },
  };
  return running;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export interface RunningCluster {
  name: string;
  /** One server per shard: 127.0.0.2 and 127.0.0.3, the same ports (shard DDL goes to each host at the URL's port). */
  servers: RunningServer[];
  /** The store URL of the first shard (any shard answers for the cluster). */
  url: string;
  stop(): Promise<void>;
}

/**
 * Two clickhouse-server processes on 127.0.0.2 and 127.0.0.3, each with remote_servers naming
 * both. Not 127.0.0.1: a server counts a shard as itself (is_local: read its own table, no
 * connection) when the shard's address is one of the machine's interface addresses and its port
 * is the server's own — true of 127.0.0.1 for both servers, as they share the port, so the one on
 * 127.0.0.2 would read its own rows for the other shard. 127.0.0.2 and .3 are no interface's
 * address: each server reaches both shards over TCP, as servers on separate machines do.
 */
export async function startCluster(name = 'two', database = 'coinradar'): Promise<RunningCluster> {
  const hosts = ['127.0.0.2', '127.0.0.3'];
  const httpPort = await portFreeOn(hosts);
  const tcpPort = await portFreeOn(hosts);
  const servers: RunningServer[] = [];
  try {
    for (const host of hosts)
      servers.push(await startServer(database, { host, httpPort, tcpPort, cluster: { name, hosts } }));
  } catch (e) {
    for (const s of servers) await s.stop();
    throw e;
  }
  return {
    name,
    servers,
    url: servers[0].url,
    stop: async () => {
      for (const s of servers) await s.stop();
    },
  };
}
