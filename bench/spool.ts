/**
 * A collector killed while its ClickHouse server is away: Debian's clickhouse-server 18.16 on
 * loopback, `coinradar collect` (the CLI, detection on, no geo) writing to it at RATE flows/s of
 * NetFlow v9. After WARM seconds the server is killed (SIGKILL) for DOWN seconds; halfway through,
 * the collector is killed too (SIGKILL: an OOM kill, a crash, a host restart) and started again on
 * the same port every 500 ms until it starts (without a spool it cannot while the server is away:
 * it opens the store first; with one it starts at once and holds what arrives in the spool and memory until
 * the server answers); the sender waits while no collector listens.
 * Run twice in the same run: holding in memory only (the default), and with `--spool DIR`. Said:
 * what was sent, what the store holds (each flow its own source address, so duplicates show), and
 * what the collectors said. The peer: none runs here, as for bench/clickhouse-restart.ts — nfcapd
 * writes files, not ClickHouse; Akvorado puts Kafka between its inlet and ClickHouse. First, what
 * the spool costs a flow, written and read back.
 *
 *   node --import tsx bench/spool.ts [RATE=20000] [WARM=5] [DOWN=10] [AFTER=5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseFlowStore } from '../src/store/clickhouse/flows.js';
import { FlowBatch } from '../src/flow/record.js';
import { Spool, type SpoolRef } from '../src/netflow/spool.js';
import { openFlowStore } from '../src/store/open.js';
import { haveServer, startServer } from '../test/store/clickhouse-server.js';
import { v9Datagram } from '../test/netflow/live-sender.js';
import { collectArgs, exited, freeUdpPort } from '../test/netflow/peers.js';
import { fmt, load, say, sleep } from './report.js';

const RATE = Number(process.argv[2] ?? 20_000);
const WARM = Number(process.argv[3] ?? 5);
const DOWN = Number(process.argv[4] ?? 10);
const AFTER = Number(process.argv[5] ?? 5);
const PER = 30;

if (!haveServer()) {
  say('spool bench: clickhouse-server not installed (scripts/install-test-deps.sh)');
  process.exit(0);
}

interface Collector {
  proc: ChildProcess;
  err: () => string;
}

async function startCollector(url: string, port: number, spool: string | null): Promise<Collector> {
  const extra = ['--no-geo', ...(spool ? ['--spool', spool] : [])];
  const proc = spawn(process.execPath, collectArgs(url, `udp://127.0.0.1:${port}`, ...extra), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  for (let i = 0; i < 1200 && !/collecting on udp/.test(err); i++) {
    if (proc.exitCode !== null) throw new Error(`collect exited: ${err}`);
    await sleep(25);
  }
  return { proc, err: () => err };
}

async function run(spool: boolean): Promise<void> {
  const server = await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'cr-spool-bench-'));
  const port = await freeUdpPort();
  const sock = createSocket('udp4');
  let k = 0;
  let sending = true;
  let paused = false;
  const perTick = Math.max(1, Math.round(RATE / PER / 100));
  let c = await startCollector(server.url, port, spool ? join(dir, 'spool') : null);
  const sender = (async () => {
    let t0 = Date.now();
    for (let tick = 0; sending; tick++) {
      if (paused) {
        await sleep(10);
        t0 = Date.now() - (tick + 1) * 10;
        continue;
      }
      for (let i = 0; i < perTick; i++, k++) sock.send(v9Datagram(0, k, PER, k), port, '127.0.0.1');
      await sleep(Math.max(0, t0 + (tick + 1) * 10 - Date.now()));
    }
  })();
  const said: string[] = [];
  try {
    await sleep(WARM * 1000);
    const away = server.restart(DOWN * 1000);
    await sleep((DOWN * 1000) / 2);
    paused = true;
    const killedAt = k * PER;
    const gapFrom = Date.now();
    c.proc.kill('SIGKILL');
    await exited(c.proc);
    said.push(
      ...c
        .err()
        .split('\n')
        .filter((l) => /warning/.test(l)),
    );
    // Without a spool a collector cannot start while its server is away (it opens the store
    // first): started again every 500 ms, as a supervisor would, until it does.
    let tries = 0;
    for (;;) {
      tries++;
      try {
        c = await startCollector(server.url, port, spool ? join(dir, 'spool') : null);
        break;
      } catch {
        await sleep(500);
      }
    }
    paused = false;
    const gap = Date.now() - gapFrom;
    await away;
    await sleep(AFTER * 1000);
    sending = false;
    await sender;
    await sleep(2000);
    c.proc.kill('SIGINT');
    await exited(c.proc);
    said.push(
      ...c
        .err()
        .split('\n')
        .filter((l) => l.trim()),
    );
    said.push(
      `(the collector started again after ${tries} tries, ${(gap / 1000).toFixed(1)} s; the sender waited meanwhile)`,
    );
    const sent = k * PER;
    const store = (await openFlowStore(server.url)) as ClickHouseFlowStore;
    try {
      const [r] = await store.conn.rows<{ n: number; u: number }>(
        'SELECT count() AS n, uniqExact(src_ip) AS u FROM flow_table',
      );
      const n = Number(r.n);
      const u = Number(r.u);
      say(
        `  ${spool ? '--spool' : 'memory only (default)'}: sent ${fmt(sent)}; stored ${fmt(n)} rows, ${fmt(u)} distinct flows ` +
          `(${((100 * u) / sent).toFixed(1)} % kept, ${fmt(n - u)} stored twice); load ${load()}`,
      );
      // Which flows are missing, as ranges of flow numbers, beside the flow the kill came after.
      const got = new Set(
        (
          await store.conn.rows<{ h: string }>('SELECT hex(substring(src_ip, 14, 3)) AS h FROM flow_table')
        ).map((x) => parseInt(x.h, 16)),
      );
      const ranges: string[] = [];
      for (let j = 0; j < sent; j++) {
        if (got.has(j)) continue;
        let e = j;
        while (e + 1 < sent && !got.has(e + 1)) e++;
        ranges.push(`${fmt(j)}–${fmt(e)} (${fmt(e - j + 1)})`);
        j = e;
      }
      say(
        `    missing: ${ranges.slice(0, 6).join(', ') || 'none'}${ranges.length > 6 ? ', …' : ''}; the kill came after flow ${fmt(killedAt)}`,
      );
      for (const m of said) say(`    said: ${m.slice(0, 260)}`);
    } finally {
      await store.close();
    }
  } finally {
    sending = false;
    sock.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What the spool costs a flow: 500 batches of 4096 written to a spool and read back (the file in
 * the system's temporary directory; the page cache, as the collector writes it).
 */
function spoolCost(): void {
  const dir = mkdtempSync(join(tmpdir(), 'cr-spool-cost-'));
  const { spool } = Spool.open(dir, 2 ** 40);
  try {
    const b = new FlowBatch(4096, 'udp://127.0.0.1:2055');
    b.length = 4096;
    b.exporters = ['', '192.0.2.1'];
    for (let i = 0; i < 4096; i++) {
      b.firstMs[i] = 1.5e12 + i;
      b.ipVersion[i] = 4;
      b.src[i * 16] = 10;
      b.packets[i] = i;
    }
    const n = 500;
    const flows = n * 4096;
    const time = (f: () => void) => {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      f();
      const c = process.cpuUsage(c0);
      return { cpu: (c.user + c.system) / flows, wall: ((performance.now() - w0) * 1000) / flows };
    };
    const refs: SpoolRef[] = [];
    const w = time(() => {
      for (let k = 0; k < n; k++) refs.push(spool.append(b)!);
    });
    const bytes = spool.held / flows;
    const r = time(() => {
      for (const ref of refs) spool.read(ref);
    });
    say(
      `  the spool's cost (${fmt(flows)} flows): written ${w.cpu.toFixed(3)} µs CPU a flow (${w.wall.toFixed(3)} µs wall), ` +
        `read back ${r.cpu.toFixed(3)} µs CPU (${r.wall.toFixed(3)} µs wall); ${bytes.toFixed(1)} bytes a flow on disk`,
    );
    spool.clear();
  } finally {
    spool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

say(
  `spool bench: ${fmt(RATE)} flows/s; ${WARM} s, server away ${DOWN} s with the collector killed (-9) and started again halfway, ${AFTER} s after; load ${load()}`,
);
spoolCost();
await run(false);
await run(true);
