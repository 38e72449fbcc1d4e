// Helpers for the tests that run pmacct (pmacctd with the sfprobe plugin, sfacctd) as real peers on
// loopback: configs written into a temp dir, every process killed at the end, every wait bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exited, sleep, type PeerFlow } from '../netflow/peers.js';

/** Waits for `p` to exit, at most `ms`; kills it (SIGKILL) when it has not. Resolves to its code. */
export async function exitedWithin(p: ChildProcess, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), ms)));
  const r = await Promise.race([exited(p), timeout]);
  clearTimeout(timer);
  if (r === 'timeout') {
    p.kill('SIGKILL');
    await exited(p);
    throw new Error(`${p.spawnfile} did not exit within ${ms} ms`);
  }
  return r;
}

/**
 * pmacctd reads `capture` (pcap_savefile) and its sfprobe plugin exports sFlow v5 at 1:`rate` to
 * 127.0.0.1:`port`. `progress` (datagrams seen so far, when the receiver can tell) lets a run that
 * has gone quiet be ended: pmacctd exits at the end of the file, but now and then (1 run in 10 here,
 * more under load) it stays after its plugin has sent everything; once nothing has come for 3 s it
 * is stopped. Without `progress` it is given 20 s.
 */
export async function runSfprobe(
  dir: string,
  capture: string,
  rate: number,
  port: number,
  progress?: () => number,
): Promise<void> {
  const conf = join(dir, `pmacctd-${rate}-${port}.conf`);
  writeFileSync(
    conf,
    [
      'daemonize: false',
      `pcap_savefile: ${capture}`,
      'plugins: sfprobe',
      `sfprobe_receiver: 127.0.0.1:${port}`,
      'sfprobe_agentip: 127.0.0.1',
      `sampling_rate: ${rate}`,
      '',
    ].join('\n'),
  );
  const p = spawn('pmacctd', ['-f', conf], { stdio: 'ignore' });
  const t0 = Date.now();
  let last = -1;
  let quietSince = Date.now();
  while (p.exitCode === null && p.signalCode === null && Date.now() - t0 < (progress ? 60_000 : 20_000)) {
    const n = progress?.() ?? 0;
    if (n !== last) {
      last = n;
      quietSince = Date.now();
    } else if (n > 0 && Date.now() - quietSince > 3_000) break;
    await sleep(50);
  }
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await exitedWithin(p, 5_000);
  // The plugin's last datagrams may still be on their way through loopback.
  await sleep(200);
}

/** pmacctd's sFlow of `capture` at 1:`rate`, received on a socket of ours: every datagram (copies), in order. */
export async function sfprobeDatagrams(dir: string, capture: string, rate: number): Promise<Buffer[]> {
  const sock = createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(Buffer.from(m)));
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
  try {
    await runSfprobe(dir, capture, rate, sock.address().port, () => got.length);
    return got;
  } finally {
    sock.close();
  }
}

/** sfacctd listening on 127.0.0.1:`port`, its print plugin writing CSV to `<dir>/sfacctd.csv` when stopped. */
export async function startSfacctd(dir: string, port: number): Promise<{ p: ChildProcess; csv: string }> {
  const csv = join(dir, 'sfacctd.csv');
  const conf = join(dir, 'sfacctd.conf');
  writeFileSync(
    conf,
    [
      'daemonize: false',
      `sfacctd_port: ${port}`,
      'sfacctd_ip: 127.0.0.1',
      'plugins: print',
      'aggregate: src_host, dst_host, src_port, dst_port, proto',
      'print_output: csv',
      `print_output_file: ${csv}`,
      // One dump, at the stop, that replaces the file: in one CI run under load the CSV held every
      // count twice (sfacctd 2×, coinradar 1×, for every 5-tuple), the print plugin's cache written
      // out twice into the appended file. No refresh falls within a test (an hour away), and a
      // second dump of the same cache now rewrites the file rather than adding to it.
      'print_output_file_append: false',
      'print_refresh_time: 3600',
      '',
    ].join('\n'),
  );
  const p = spawn('sfacctd', ['-f', conf], { stdio: 'ignore' });
  // sfacctd has no readiness signal: wait until its socket is bound (it shows in /proc/net/udp).
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (let k = 0; k < 100; k++) {
    if (p.exitCode !== null) throw new Error(`sfacctd exited with ${p.exitCode}`);
    if (readFileSync('/proc/net/udp', 'utf8').includes(`:${hex} `)) break;
    await sleep(50);
  }
  await sleep(100);
  return { p, csv };
}

/** sfacctd prints protocols by name (tcp, igmp, ipv6-icmp …): the numbers from /etc/protocols. */
function protocolNumbers(): Map<string, number> {
  const m = new Map<string, number>([
    ['tcp', 6],
    ['udp', 17],
    ['icmp', 1],
    ['igmp', 2],
    ['ipv6-icmp', 58],
  ]);
  if (existsSync('/etc/protocols'))
    for (const line of readFileSync('/etc/protocols', 'utf8').split('\n')) {
      const f = line.replace(/#.*/, '').trim().split(/\s+/);
      if (f.length >= 2 && /^\d+$/.test(f[1])) m.set(f[0], Number(f[1]));
    }
  return m;
}

/** Stops sfacctd (SIGINT: the print plugin writes its cache) and reads its CSV rows. */
export async function stopSfacctd(s: { p: ChildProcess; csv: string }): Promise<PeerFlow[]> {
  s.p.kill('SIGINT');
  await exitedWithin(s.p, 15_000);
  if (!existsSync(s.csv)) return [];
  const lines = readFileSync(s.csv, 'utf8').trim().split('\n');
  const head = lines[0].split(',');
  const col = (name: string) => head.indexOf(name);
  const PROTO = protocolNumbers();
  const out: PeerFlow[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('SRC_IP')) continue;
    const f = line.split(',');
    const proto = f[col('PROTOCOL')];
    out.push({
      src: f[col('SRC_IP')],
      dst: f[col('DST_IP')],
      srcPort: Number(f[col('SRC_PORT')]),
      dstPort: Number(f[col('DST_PORT')]),
      proto: PROTO.get(proto) ?? Number(proto),
      packets: Number(f[col('PACKETS')]),
      bytes: Number(f[col('BYTES')]),
      revPackets: 0,
      revBytes: 0,
    });
  }
  return out;
}
