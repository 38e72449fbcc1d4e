/**
 * Flows of a capture as tshark sees them (one per tcp.stream / udp.stream), with the first
 * payload bytes of each direction in arrival order — the same shape flow assembly produces.
 * tshark is the oracle here: tests of the matchers run on the real packets without depending on
 * coinradar's own capture reader.
 */
import { spawnSync } from 'node:child_process';
import type { FlowRecord } from '../../src/flow/record.js';

export function haveTshark(): boolean {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

const FIELDS = [
  'frame.time_epoch',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'tcp.stream',
  'udp.stream',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'tcp.flags',
  'frame.len',
  'tcp.payload',
  'udp.payload',
];

export function tsharkFlows(path: string, cap = 2048): FlowRecord[] {
  const args = ['-r', path, '-n', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f'];
  for (const f of FIELDS) args.push('-e', f);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`tshark failed on ${path}: ${r.stderr}`);
  const flows = new Map<string, FlowRecord & { fwdParts: Buffer[]; revParts: Buffer[] }>();
  const order: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [t, ip4s, ip4d, ip6s, ip6d, tstream, ustream, tsp, tdp, usp, udp, flags, flen, tpay, upay] =
      line.split('\t');
    const tcp = tstream !== '';
    if (!tcp && ustream === '') continue;
    const key = tcp ? `t${tstream}` : `u${ustream}`;
    const src = ip4s || ip6s;
    const dst = ip4d || ip6d;
    const sport = Number(tcp ? tsp : usp);
    const dport = Number(tcp ? tdp : udp);
    const ms = Number(t) * 1000;
    let f = flows.get(key);
    if (!f) {
      f = {
        firstMs: ms,
        lastMs: ms,
        ipVersion: ip4s ? 4 : 6,
        src,
        dst,
        srcPort: sport,
        dstPort: dport,
        proto: tcp ? 6 : 17,
        packets: 0,
        bytes: 0,
        revPackets: 0,
        revBytes: 0,
        tcpFlags: 0,
        samplingRate: 1,
        exporter: '',
        observationDomain: 0,
        source: path,
        position: 0,
        payloadFwd: null,
        payloadRev: null,
        fwdParts: [],
        revParts: [],
      };
      flows.set(key, f);
      order.push(key);
    }
    f.lastMs = ms;
    const fwd = src === f.src && sport === f.srcPort;
    if (fwd) {
      f.packets++;
      f.bytes += Number(flen);
    } else {
      f.revPackets++;
      f.revBytes += Number(flen);
    }
    if (flags) f.tcpFlags |= parseInt(flags, 16) & 0xff;
    const hex = (tcp ? tpay : upay).replace(/:/g, '');
    if (hex) {
      const parts = fwd ? f.fwdParts : f.revParts;
      const have = parts.reduce((n, b) => n + b.length, 0);
      if (have < cap) parts.push(Buffer.from(hex, 'hex').subarray(0, cap - have));
    }
  }
  return order.map((k) => {
    const { fwdParts, revParts, ...rec } = flows.get(k)!;
    rec.payloadFwd = fwdParts.length ? Buffer.concat(fwdParts) : null;
    rec.payloadRev = revParts.length ? Buffer.concat(revParts) : null;
    return rec;
  });
}

/**
 * Connections (as "lowport-highport") in which `client` sent Stratum, getwork/getblocktemplate or
 * a CryptoNote login, per tshark looking at each segment on its own (no reassembly).
 */
export function tsharkMiningConnections(path: string, client: string): Set<string> {
  const words = ['mining.', 'getblocktemplate', 'getwork', 'eth_submitLogin', '\\"login\\"'];
  const filter = `ip.src == ${client} and (${words.map((w) => `tcp contains "${w}"`).join(' or ')})`;
  const r = spawnSync(
    'tshark',
    [
      '-o',
      'tcp.desegment_tcp_streams:FALSE',
      '-r',
      path,
      '-Y',
      filter,
      '-T',
      'fields',
      '-e',
      'tcp.srcport',
      '-e',
      'tcp.dstport',
    ],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`tshark failed on ${path}: ${r.stderr}`);
  const out = new Set<string>();
  for (const l of r.stdout.split('\n').filter(Boolean)) {
    const [a, b] = l.split('\t').map(Number);
    out.add(a < b ? `${a}-${b}` : `${b}-${a}`);
  }
  return out;
}
