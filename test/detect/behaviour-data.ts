/**
 * Training and test data for the flow-behaviour classifier, derived here from real captures: the
 * packets (read by tshark) are cut into bidirectional flow records with a 60-second active timeout,
 * as a NetFlow/IPFIX exporter would export a long session, then grouped per (client, server,
 * server port). Plus the study's 273 confirmed-miner feature rows.
 */
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { groupFeatures, type BehaviourFeatures, type BehaviourRecord } from '../../src/detect/behaviour.js';

export const ACTIVE_TIMEOUT_MS = 60_000;

export interface LabelledGroup {
  source: string;
  key: string;
  features: BehaviourFeatures;
  records: number;
}

/** Groups of TCP records per (client, server, server port) of a capture; `keep` filters by server port. */
export function captureGroups(
  path: string,
  keep: (serverPort: number, key: string) => boolean = () => true,
): LabelledGroup[] {
  const r = spawnSync(
    'tshark',
    [
      '-r',
      path,
      '-n',
      '-Y',
      'tcp',
      '-T',
      'fields',
      '-E',
      'separator=\t',
      '-e',
      'frame.time_epoch',
      '-e',
      'tcp.stream',
      '-e',
      'ip.src',
      '-e',
      'ipv6.src',
      '-e',
      'tcp.srcport',
      '-e',
      'ip.dst',
      '-e',
      'ipv6.dst',
      '-e',
      'tcp.dstport',
      '-e',
      'tcp.flags',
      '-e',
      'ip.len',
      '-e',
      'ipv6.plen',
    ],
    { encoding: 'utf8', maxBuffer: 1 << 30 },
  );
  if (r.status !== 0) throw new Error(`tshark failed on ${path}`);
  const streams = new Map<
    string,
    {
      client: string;
      cport: number;
      server: string;
      sport: number;
      start: number;
      recs: Map<number, BehaviourRecord>;
    }
  >();
  for (const line of r.stdout.split('\n')) {
    if (!line) continue;
    const [t, stream, s4, s6, sp, d4, d6, dp, flags, len4, len6] = line.split('\t');
    const ms = Number(t) * 1000;
    const src = s4 || s6;
    const srcPort = Number(sp);
    let s = streams.get(stream);
    if (!s) {
      // The first packet's sender is the client (a SYN, or the first one the capture saw).
      s = { client: src, cport: srcPort, server: d4 || d6, sport: Number(dp), start: ms, recs: new Map() };
      streams.set(stream, s);
    }
    const slot = Math.floor((ms - s.start) / ACTIVE_TIMEOUT_MS);
    let rec = s.recs.get(slot);
    if (!rec)
      s.recs.set(slot, (rec = { firstMs: ms, lastMs: ms, packets: 0, bytes: 0, tcpFlags: 0, request: true }));
    rec.lastMs = ms;
    rec.tcpFlags |= parseInt(flags, 16) & 0xff;
    // Counters of the request direction, as a unidirectional exporter's client → server record has them.
    if (src === s.client && srcPort === s.cport) {
      rec.packets++;
      rec.bytes += len4 ? Number(len4) : Number(len6) + 40;
    }
  }
  const groups = new Map<string, BehaviourRecord[]>();
  for (const s of streams.values()) {
    const key = `${s.client} ${s.server}:${s.sport}`;
    if (!keep(s.sport, key)) continue;
    const list = groups.get(key) ?? [];
    for (const rec of s.recs.values()) if (rec.packets > 0) list.push(rec);
    groups.set(key, list);
  }
  return [...groups]
    .filter(([, recs]) => recs.length > 0)
    .map(([key, recs]) => {
      const g = groupFeatures(recs);
      return { source: path, key, features: g.features, records: g.records };
    });
}

/** The study's rows: ackpush, bytes/packet, packets/flow, packets/minute, requests, syn, rst, fin. */
export function studyRows(): LabelledGroup[] {
  return readFileSync('test/fixtures/pcap/nesfit/flow-features-miners.csv', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line, i) => {
      const v = line.split(',').slice(0, 8).map(Number);
      return {
        source: 'flow-features-miners.csv',
        key: `row ${i + 1}`,
        records: 0,
        features: {
          ackpush: v[0],
          bytesPerPacket: v[1],
          packetsPerFlow: v[2],
          packetsPerMinute: v[3],
          requests: v[4],
          syn: v[5],
          rst: v[6],
          fin: v[7],
        },
      };
    });
}

/** Server endpoints (ip:port) that tshark sees carrying Stratum/getwork/getblocktemplate requests. */
export function miningServers(path: string): Set<string> {
  const filter =
    'tcp contains "mining.subscribe" or tcp contains "getblocktemplate" or tcp contains "getwork" or tcp contains "eth_submitLogin" or tcp contains "\\"login\\""';
  const r = spawnSync(
    'tshark',
    [
      '-r',
      path,
      '-n',
      '-Y',
      filter,
      '-T',
      'fields',
      '-e',
      'ip.dst',
      '-e',
      'tcp.dstport',
      '-e',
      'ip.src',
      '-e',
      'tcp.srcport',
    ],
    {
      encoding: 'utf8',
    },
  );
  const out = new Set<string>();
  for (const l of r.stdout.split('\n').filter(Boolean)) {
    const [d, dp, s, sp] = l.split('\t');
    out.add(`${d}:${dp}`);
    out.add(`${s}:${sp}`);
  }
  return out;
}

const N = 'test/fixtures/pcap/ndpi/';
const S = 'test/fixtures/pcap/nesfit/';

/** Not a miner: every TCP group of these captures, and the non-mining groups of the cgminer captures. */
function negatives(files: string[]): LabelledGroup[] {
  const out: LabelledGroup[] = [];
  for (const f of files) {
    const mining = f.includes('cgminer') ? miningServers(f) : new Set<string>();
    out.push(...captureGroups(f, (_p, key) => !mining.has(key.split(' ')[1])));
  }
  return out;
}

/**
 * The split. Training: even rows of the study, the four sessions of mining.pcapng, negatives from
 * bittorrent, http, irc, bitcoin and cgminer.g0. Test (never looked at while fitting): odd rows, the
 * three nanopool sessions, negatives from gnutella, jsonrpc, monero and cgminer.s0.
 */
export function behaviourSplit(): {
  train: { pos: LabelledGroup[]; neg: LabelledGroup[] };
  test: { pos: LabelledGroup[]; neg: LabelledGroup[]; posCaptures: LabelledGroup[] };
} {
  const rows = studyRows();
  const nano = ['xmr-eu1', 'zec-eu1', 'eth-eu1'].flatMap((n) =>
    captureGroups(`${S}${n}.nanopool.org.pcapng`),
  );
  return {
    train: {
      pos: [...rows.filter((_, i) => i % 2 === 0), ...captureGroups(`${N}mining.pcapng`)],
      neg: negatives([
        `${N}bittorrent.pcap`,
        `${N}http.pcapng`,
        `${N}irc.pcap`,
        `${N}bitcoin.pcap`,
        `${S}cgminer.g0.pcapng`,
      ]),
    },
    test: {
      pos: rows.filter((_, i) => i % 2 === 1),
      posCaptures: nano,
      neg: negatives([`${N}gnutella.pcap`, `${N}jsonrpc.pcap`, `${N}monero.pcap`, `${S}cgminer.s0.pcapng`]),
    },
  };
}
