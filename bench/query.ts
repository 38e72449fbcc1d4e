/**
 * Query benchmark: `summary --by dport --top 20` against `nfdump -s dstport:p/bytes -n 20` over the
 * same flows, and it and `series --bucket day` against the hand-written DuckDB SQL for the same answer;
 * and bytes per flow on disk against nfcapd's LZ4-compressed file (-y) of the same flows. One generated
 * NetFlow v5 stream (varied ports and addresses) goes to nfcapd over loopback and, decoded by
 * coinradar, into a DuckDB store; the bench checks both hold every flow before it times anything.
 * CPU is user+system: for nfdump and the coinradar CLI from the kernel's child accounting
 * (/proc/<sh>/stat cutime+cstime after the child is reaped, 10 ms ticks), in-process for queries.
 * Usage: node --import tsx bench/query.ts [flows=2000000] [runs=5]
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnricher } from '../src/cli/enricher.js';
import { Diagnostics } from '../src/flow/diagnostics.js';
import type { FlowBatch } from '../src/flow/record.js';
import { NetflowDecoder } from '../src/netflow/decoder.js';
import { v5Packet, type V5Flow } from '../src/netflow/encode.js';
import { DuckDbFlowStore } from '../src/store/duckdb/flows.js';

const FLOWS = Number(process.argv[2] ?? 2_000_000);
const RUNS = Number(process.argv[3] ?? 5);
const PER = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stdout.write(s + '\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A skewed port mix (a few busy services, a long tail) and spread addresses, deterministic. */
function* stream(n: number): Generator<Buffer> {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const busy = [443, 80, 53, 8333, 3333, 22, 25, 123, 4444, 18080];
  const t0 = 1_700_000_000;
  for (let k = 0; k * PER < n; k++) {
    const flows: V5Flow[] = [];
    for (let r = 0; r < PER && k * PER + r < n; r++) {
      const x = rnd();
      const dstPort = x < 0.7 ? busy[Math.floor(rnd() * busy.length)] : 1024 + Math.floor(rnd() * 3000);
      const packets = 1 + Math.floor(rnd() * 200);
      flows.push({
        src: `10.${Math.floor(rnd() * 16)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`,
        dst: `${1 + Math.floor(rnd() * 220)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`,
        srcPort: 1024 + Math.floor(rnd() * 60000),
        dstPort,
        proto: rnd() < 0.8 ? 6 : 17,
        packets,
        bytes: packets * (40 + Math.floor(rnd() * 1400)),
        first: 1000,
        last: 2000,
      });
    }
    yield v5Packet({ sysUptime: 5000, unixSecs: t0 + Math.floor(k / 100), seq: k * PER }, flows);
  }
}

/** CPU seconds of one command, from the kernel's accounting of a reaped child. */
function childCpu(cmd: string[]): number {
  const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('sh', ['-c', `${quoted} >/dev/null 2>&1; cat /proc/$$/stat`], { encoding: 'utf8' });
  const fields = r.stdout.slice(r.stdout.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", fields[0] is state (stat field 3): cutime and cstime are stat fields 16 and 17.
  const ticks = Number(fields[13]) + Number(fields[14]);
  return ticks / 100;
}

function inProcessCpu<T>(f: () => Promise<T>): Promise<{ cpu: number; value: T }> {
  const c0 = process.cpuUsage();
  return f().then((value) => {
    const c = process.cpuUsage(c0);
    return { cpu: (c.user + c.system) / 1e6, value };
  });
}

const dir = mkdtempSync(join(tmpdir(), 'cr-query-'));
try {
  say(
    `bench/query: ${FLOWS} flows, ${RUNS} runs each; ${cpus().length} × ${cpus()[0].model}; load ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  const datagrams = [...stream(FLOWS)];

  // Two nfcapd over loopback, paced so that nothing is lost (checked below): one writing plain
  // files (nfdump's fastest read, the CPU peer), one LZ4-compressed (-y, the size peer).
  const nfcapd = (sub: string, extra: string[]) => {
    const d = join(dir, sub);
    mkdirSync(d);
    const port = 40000 + Math.floor(Math.random() * 20000);
    const proc = spawn(
      'nfcapd',
      ['-w', d, '-p', String(port), '-b', '127.0.0.1', '-t', '3600', '-B', '8388608', ...extra],
      {
        stdio: 'ignore',
      },
    );
    return { d, port, proc };
  };
  const plain = nfcapd('nf', []);
  const lz4 = nfcapd('nf-lz4', ['-y']);
  await sleep(500);
  const sock = createSocket('udp4');
  for (let k = 0; k < datagrams.length; k++) {
    for (const peer of [plain, lz4])
      await new Promise<void>((res) => sock.send(datagrams[k], peer.port, '127.0.0.1', () => res()));
    if (k % 32 === 31) await sleep(1);
  }
  sock.close();
  await sleep(500);
  const files: string[] = [];
  for (const peer of [plain, lz4]) {
    peer.proc.kill('SIGTERM');
    await new Promise((r) => peer.proc.once('exit', r));
    const file = join(
      peer.d,
      readdirSync(peer.d).find((f) => /^nfcapd\.\d{12}$/.test(f))!,
    );
    const count = spawnSync('nfdump', ['-r', file, '-s', 'proto/flows', '-o', 'csv', '-q'], {
      encoding: 'utf8',
    });
    const nfFlows = count.stdout
      .split('\n')
      .filter((l) => /^\d{4}-/.test(l))
      .reduce((a, l) => a + Number(l.split(',')[5]), 0);
    if (nfFlows !== FLOWS)
      throw new Error(
        `nfcapd stored ${nfFlows} of ${FLOWS} flows: loss on loopback, rerun on a quieter machine`,
      );
    files.push(file);
  }
  const [nfFile, nfLz4File] = files;

  // The same datagrams into the DuckDB store.
  const dbPath = join(dir, 'q.duckdb');
  const store = await DuckDbFlowStore.open(dbPath);
  const enricher = await loadEnricher({ geo: true });
  const w = await store.beginSource({
    name: 'bench-query',
    kind: 'netflow-file',
    fingerprint: 'bench-query',
  });
  const batches: FlowBatch[] = [];
  const dec = new NetflowDecoder({
    source: 'bench',
    unit: 'byte',
    diagnostics: new Diagnostics(),
    batchSize: 8192,
    onBatch: (b) => batches.push(b),
  });
  for (let k = 0; k < datagrams.length; k++) {
    dec.decode(datagrams[k], '127.0.0.1', 9995, k);
    if (k === datagrams.length - 1) dec.finish();
    while (batches.length) {
      const b = batches.shift()!;
      await w.append(b, enricher!.enrich(b));
    }
  }
  await w.commit(new Diagnostics());
  const [{ n }] = await store.db.all<{ n: number }>('SELECT count(*) AS n FROM flow_rows');
  if (Number(n) !== FLOWS) throw new Error(`store holds ${n} of ${FLOWS}`);

  // Warm both once (file cache), then time.
  childCpu(['nfdump', '-r', nfFile, '-s', 'dstport:p/bytes', '-n', '20']);
  const nfCpu: number[] = [];
  for (let r = 0; r < RUNS; r++)
    nfCpu.push(childCpu(['nfdump', '-r', nfFile, '-s', 'dstport:p/bytes', '-n', '20']));

  const handSql = `SELECT proto, dst_port, count(*) AS flows, sum(packets + rev_packets) AS packets,
                          sum(bytes + rev_bytes) AS bytes
                   FROM flow_rows GROUP BY proto, dst_port ORDER BY bytes DESC LIMIT 20`;
  await store.db.all(handSql);
  const ours: number[] = [];
  const hand: number[] = [];
  let top: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const a = await inProcessCpu(() => store.summarize({ by: ['dport'], top: 20 }));
    ours.push(a.cpu);
    top = a.value.get('dport')!.map((x) => x.bytes);
    const b = await inProcessCpu(() => store.db.all<{ bytes: number }>(handSql));
    hand.push(b.cpu);
    if (b.value.map((x) => Number(x.bytes)).join() !== top.join())
      throw new Error('summary and the hand-written SQL disagree');
  }
  // series --bucket day over the crypto ports (what `surge --ports crypto` reads), against the
  // hand-written SQL for the same answer: per day the scope's flows and counters and whether the
  // store saw any flow that day.
  const ports = [3333, 4444, 8333, 18080];
  const seriesSql = `SELECT (first_ms // 86400000) * 86400000 AS b, count(*) FILTER (WHERE m) AS flows,
                            sum(sampling_rate) FILTER (WHERE m) AS flows_est,
                            sum(packets + rev_packets) FILTER (WHERE m) AS packets,
                            sum((packets + rev_packets) * sampling_rate) FILTER (WHERE m) AS packets_est,
                            sum((bytes + rev_bytes) * sampling_rate) FILTER (WHERE m) AS bytes_est
                     FROM (SELECT first_ms, sampling_rate, packets, rev_packets, bytes, rev_bytes,
                                  dst_port IN (${ports.join(',')}) AS m FROM flow_rows)
                     GROUP BY 1 ORDER BY 1`;
  await store.db.all(seriesSql);
  const { DuckDbSeries } = await import('../src/store/duckdb/series.js');
  const series = new DuckDbSeries(store.db);
  const sOurs: number[] = [];
  const sHand: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const a = await inProcessCpu(() => series.series({ bucket: 'day', scope: { dstPorts: ports } }));
    sOurs.push(a.cpu);
    const b = await inProcessCpu(() => store.db.all<{ flows: number }>(seriesSql));
    sHand.push(b.cpu);
    const mine = a.value.buckets.filter((x) => x.observed).map((x) => x.flows);
    if (mine.join() !== b.value.map((x) => Number(x.flows)).join())
      throw new Error('series and the hand-written SQL disagree');
  }
  // hosts over the same crypto ports (what `coinradar hosts --ports crypto` asks; the store has no
  // detections, so the query's detection and artifact joins meet empty stand-ins), against the
  // hand-written SQL for the same rows: that SQL knows there are no detections and uses plain IN
  // lists where ours takes list parameters (one prepared text for any port and address set).
  const { hostProfiles } = await import('../src/store/duckdb/hosts.js');
  const { SCAN_ATTEMPT_SQL } = await import('../src/detect/scan.js');
  const inPorts = ports.join(',');
  const hostsSql = `WITH c AS (
      SELECT id, first_ms, last_ms, ip_version,
             CASE WHEN dst_port IN (${inPorts}) THEN dst_port ELSE src_port END AS service_port,
             src_ip AS host_ip, dst_ip AS peer_ip, src_country AS country, src_asn AS asn,
             (packets + rev_packets) * sampling_rate AS packets_est, (bytes + rev_bytes) * sampling_rate AS bytes_est
      FROM flow_rows
      WHERE (dst_port IN (${inPorts}) OR src_port IN (${inPorts}))
        AND NOT ${SCAN_ATTEMPT_SQL}),
    s AS (SELECT host_ip, first_ms, max(last_ms) OVER (PARTITION BY host_ip, peer_ip, service_port ORDER BY first_ms, id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM c),
    sessions AS (SELECT host_ip, count(*) FILTER (WHERE prev_end IS NULL OR first_ms - prev_end > 600000) AS sessions FROM s GROUP BY host_ip),
    hours AS (SELECT host_ip, count(DISTINCT h) AS hours FROM (SELECT host_ip, unnest(range(first_ms // 3600000, last_ms // 3600000 + 1)) AS h FROM c) GROUP BY host_ip),
    agg AS (SELECT host_ip, any_value(ip_version) AS ip_version, any_value(country) AS country, any_value(asn) AS asn,
              count(*) AS flows, sum(packets_est) AS packets_est, sum(bytes_est) AS bytes_est, min(first_ms) AS first_ms,
              max(last_ms) AS last_ms, list(DISTINCT service_port ORDER BY service_port) AS ports, count(DISTINCT peer_ip) AS peers
            FROM c GROUP BY host_ip)
    SELECT ip_text(host_ip, ip_version) AS host, flows, sessions, hours FROM agg JOIN sessions USING (host_ip) JOIN hours USING (host_ip)
    ORDER BY bytes_est DESC, host LIMIT 1000`;
  await store.db.all(hostsSql);
  const hOurs: number[] = [];
  const hHand: number[] = [];
  let hostRows = 0;
  for (let r = 0; r < RUNS; r++) {
    const a = await inProcessCpu(() => hostProfiles(store.db, { scope: {}, ports, limit: 1000 }));
    hOurs.push(a.cpu);
    const b = await inProcessCpu(() =>
      store.db.all<{ host: string; flows: number; sessions: number; hours: number }>(hostsSql),
    );
    hHand.push(b.cpu);
    const key = (h: { host: string; flows: number; sessions: number }) =>
      `${h.host}/${h.flows}/${h.sessions}`;
    if (
      a.value.map(key).join() !==
      b.value.map((x) => key({ ...x, flows: Number(x.flows), sessions: Number(x.sessions) })).join()
    )
      throw new Error('hosts and the hand-written SQL disagree');
    hostRows = a.value.length;
  }
  await store.close();
  // Bytes per flow on disk: nfcapd's LZ4 file (-y) against the DuckDB file holding the same flows
  // (checkpointed and closed; geo columns filled, no payloads).
  const nfBytes = statSync(nfLz4File).size;
  const dbBytes = statSync(dbPath).size + (existsSync(`${dbPath}.wal`) ? statSync(`${dbPath}.wal`).size : 0);
  const cli: number[] = [];
  const main = join(process.cwd(), 'dist/cli/main.js');
  for (let r = 0; r < RUNS; r++)
    cli.push(childCpu([process.execPath, main, 'summary', '--db', dbPath, '--by', 'dport', '--top', '20']));
  const startup: number[] = [];
  for (let r = 0; r < RUNS; r++) startup.push(childCpu([process.execPath, main, 'summary', '--help']));

  const f = (x: number) => `${x.toFixed(3)} CPU-s`;
  say(`nfdump -s dstport:p/bytes -n 20:               median ${f(median(nfCpu))}`);
  say(
    `summary --by dport --top 20 (query, in-process): median ${f(median(ours))}  ratio to nfdump ${(median(ours) / median(nfCpu)).toFixed(2)}x`,
  );
  say(
    `hand-written DuckDB SQL (same answer):          median ${f(median(hand))}  summary/SQL ${(median(ours) / median(hand)).toFixed(2)}x`,
  );
  say(
    `series --bucket day, crypto ports (in-process): median ${f(median(sOurs))}  hand-written SQL ${f(median(sHand))}  series/SQL ${(median(sOurs) / median(sHand)).toFixed(2)}x`,
  );
  say(
    `hosts, crypto ports, top 1000 of ${hostRows} rows (in-process): median ${f(median(hOurs))}  hand-written SQL ${f(median(hHand))}  hosts/SQL ${(median(hOurs) / median(hHand)).toFixed(2)}x`,
  );
  say(
    `coinradar summary --by dport (whole CLI process): median ${f(median(cli))}  ratio to nfdump ${(median(cli) / median(nfCpu)).toFixed(2)}x (of which node + CLI start-up, --help: ${f(median(startup))})`,
  );
  say(
    `bytes per flow on disk: nfcapd -y (LZ4) ${(nfBytes / FLOWS).toFixed(1)}, DuckDB store ${(dbBytes / FLOWS).toFixed(1)}  ratio ${(dbBytes / nfBytes).toFixed(2)}x`,
  );
  say(
    `load after: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
