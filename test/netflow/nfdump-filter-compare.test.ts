// nfdump's filter language, checked against nfdump itself: one generated NetFlow v9 stream (IPv4
// and IPv6; tcp, udp, icmp and icmp6; many ports; TCP flags; counters from 1 to
// billions) goes over loopback UDP to Debian's nfcapd; coinradar ingests the file nfcapd wrote.
// Then for every filter of the list `nfdump -r FILE 'FILTER'` and `coinradar flows|summary
// --filter 'FILTER'` must agree exactly on flows, packets and bytes, and every filter nfdump
// rejects coinradar rejects too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  dataSet,
  encodeRecord,
  field,
  templateSet,
  v9Packet,
  type FieldValue,
} from '../../src/netflow/encode.js';
import { IE } from '../../src/netflow/plan.js';
import { runCli } from '../cli-run.js';
import { freeUdpPort, have, sleep, startNfcapd, stopNfcapd } from './peers.js';

const missing = ['nfcapd', 'nfdump'].filter((c) => !have(c));
const skip = missing.length ? `${missing.join(' and ')} not installed (scripts/install-test-deps.sh)` : false;

const FLOWS = 3000;
const PER_DATAGRAM = 20;
const common = [
  field(IE.sourceTransportPort, 2),
  field(IE.destinationTransportPort, 2),
  field(IE.protocolIdentifier, 1),
  field(IE.tcpControlBits, 1),
  field(IE.packetDeltaCount, 8),
  field(IE.octetDeltaCount, 8),
  field(IE.flowStartSysUpTime, 4),
  field(IE.flowEndSysUpTime, 4),
];
const V4 = {
  id: 256,
  fields: [field(IE.sourceIPv4Address, 4), field(IE.destinationIPv4Address, 4), ...common],
};
const V6 = {
  id: 257,
  fields: [field(IE.sourceIPv6Address, 16), field(IE.destinationIPv6Address, 16), ...common],
};

// Address pools: KP's /22, public resolvers and CDNs, private and
// documentation space (AS 0), and IPv6 of Google, Cloudflare, documentation and link-local.
const V4_NETS = [
  '175.45.176.',
  '175.45.178.',
  '8.8.8.',
  '1.1.1.',
  '10.0.0.',
  '10.1.2.',
  '192.168.1.',
  '77.94.35.',
];
const V6_NETS = ['2001:4860:4860::', '2606:4700:4700::', '2001:db8::', '2001:db8:1::', 'fe80::'];
const PORTS = [22, 53, 80, 123, 443, 1900, 3333, 4444, 5353, 8333, 14444, 18080, 18081, 45700];

let seed = 20170517;
function rnd(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
}

interface Gen {
  v6: boolean;
  src: string;
  dst: string;
  sp: number;
  dp: number;
  proto: number;
  flags: number;
  packets: bigint;
  bytes: bigint;
}

function address(v6: boolean): string {
  if (!v6) return V4_NETS[rnd(V4_NETS.length)] + (1 + rnd(254));
  return V6_NETS[rnd(V6_NETS.length)] + (1 + rnd(0xfffe)).toString(16);
}

function generate(): Gen[] {
  const out: Gen[] = [];
  for (let i = 0; i < FLOWS; i++) {
    const v6 = rnd(4) === 0;
    const kind = rnd(10);
    const proto = kind < 6 ? 6 : kind < 9 ? 17 : v6 ? 58 : 1;
    const icmp = proto === 1 || proto === 58;
    const service = PORTS[rnd(PORTS.length)];
    const ephemeral = 1024 + rnd(64512);
    const [sp, dp] = icmp
      ? [0, (rnd(12) << 8) | rnd(4)]
      : rnd(2)
        ? [ephemeral, service]
        : [service, ephemeral];
    // Counters spread over the k/m/g thresholds: 1 .. ~4 million packets.
    const packets = BigInt(1 + Math.floor(Math.exp(rnd(1500) / 100)));
    const bytes = packets * BigInt(40 + rnd(1460));
    out.push({
      v6,
      src: address(v6),
      dst: address(v6),
      sp,
      dp,
      proto,
      flags: proto === 6 ? rnd(64) : 0,
      packets,
      bytes,
    });
  }
  // Two hosts the host filters name, certainly present.
  Object.assign(out[0], { v6: false, src: '8.8.8.8', dst: '10.0.0.1' });
  Object.assign(out[1], { v6: false, src: '192.168.1.7', dst: '1.1.1.1' });
  // Values on the comparisons' boundaries, so that = < > <= >= and the k/m/g scale are told apart.
  Object.assign(out[2], { packets: 1000n, bytes: 1_000_000_000n });
  Object.assign(out[3], { packets: 1_000_000n, bytes: 1500n });
  Object.assign(out[4], { proto: 17, sp: 1024, dp: 45000 });
  Object.assign(out[5], { proto: 6, sp: 60000, dp: 22, packets: 10n, bytes: 100_000_000n });
  return out;
}

/** The stream as v9 datagrams (templates in each, as exporters refresh them). */
function datagrams(flows: Gen[]): Buffer[] {
  const unixSecs = Date.UTC(2017, 4, 17, 12) / 1000;
  const uptime = 3_600_000;
  const out: Buffer[] = [];
  for (let i = 0; i < flows.length; i += PER_DATAGRAM) {
    const chunk = flows.slice(i, i + PER_DATAGRAM);
    const sets = [templateSet(true, [V4, V6])];
    for (const t of [V4, V6]) {
      const recs = chunk
        .filter((f) => f.v6 === (t === V6))
        .map((f, k) => {
          const start = uptime - 60_000 + ((i + k) % 50_000);
          const values: FieldValue[] = [f.src, f.dst, f.sp, f.dp, f.proto, f.flags, f.packets, f.bytes];
          values.push(start, start + rnd(10_000));
          return encodeRecord(t.fields, values);
        });
      if (recs.length) sets.push(dataSet(t.id, recs, true));
    }
    out.push(
      v9Packet({ sysUptime: uptime, unixSecs, seq: out.length, sourceId: 1, count: chunk.length + 2 }, sets),
    );
  }
  return out;
}

// Filters both accept: every term of the grammar, alone and combined.
const FILTERS = [
  'any',
  'proto tcp',
  'proto udp',
  'proto icmp',
  'proto icmp6',
  'proto 17',
  'ipv4',
  'ipv6',
  'inet6 and proto tcp',
  'not proto tcp',
  '!ipv4',
  'net 175.45.176.0/22',
  'src net 175.45.176.0/23',
  'dst net 10.0.0.0/8',
  'net 10.1.2.3 255.255.255.0',
  'net 192.168.0.0 255.255.0.0 or net 8.8.8.0/24',
  'net 2001:db8::/32',
  'src net 2001:db8:1::/48',
  'net fe80::/10 and proto udp',
  'host 8.8.8.8',
  'dst host 1.1.1.1',
  'port 53',
  'src port 443',
  'dst port 8333 or dst port 18080',
  'port in [ 3333 4444 14444 ]',
  'dst port in [8333, 18080,18081]',
  'src and dst port > 1023',
  'dst or src port 5353',
  'port < 1024',
  'dst port >= 45000',
  'src port gt 60000',
  'dst port le 22',
  'dst port eq 123',
  'proto tcp and dst port 8333 and net 175.45.176.0/22',
  'proto tcp && (dst port 3333 || dst port 14444)',
  'flags S',
  'flags SA',
  'flags FSRPAU',
  'flags X',
  'not flags R and proto tcp',
  'packets > 1k',
  'packets < 10',
  'packets >= 1m',
  'bytes > 1g',
  'bytes < 1500',
  'bytes <= 1500',
  'packets 1k',
  'packets >= 1k',
  'packets > 1m',
  'bytes >= 1g',
  'dst port 45000',
  'dst port > 45000',
  'port <= 1024',
  'src port ge 60000',
  'dst port lt 22',
  'bytes > 100m and packets < 1m',
  'not (port 53 or port 123) and ipv4 and bytes > 10k',
  'proto udp or proto icmp and ipv4',
  '(proto udp or proto icmp) and ipv4',
  'not not proto udp',
];

// Filters nfdump rejects (checked below): coinradar must reject each too.
const REJECTED = [
  'proto tcp and',
  '(port 80',
  'port 80)',
  'port 70000',
  'port in [ ]',
  'proto 300',
  'proto foo',
  'net 10/8',
  'host 10.1',
  'host 1.2.3.256',
  'host 1.2.3.4/32',
  'dst net 10.0.0.0/33',
  'net 2001:db8::/129',
  'net 10.0.0.0 mask 255.0.0.0',
  'as 4294967296',
  'flags sa',
  'flags AA',
  'packets > 1.5k',
  'src port != 80',
  'port => 80',
  "port 80'; drop table flow_table",
];

interface Totals {
  flows: number;
  packets: number;
  bytes: number;
}

let work = '';
let file = '';
let db = '';

function nfdump(filter: string): { totals?: Totals; error?: string } {
  const r = spawnSync('nfdump', ['-r', file, '-q', '-N', '-o', 'fmt:%pkt,%byt', filter], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    env: { ...process.env, TZ: 'UTC' },
  });
  if (r.status !== 0) return { error: (r.stderr || r.stdout).trim() };
  const t: Totals = { flows: 0, packets: 0, bytes: 0 };
  for (const line of r.stdout.split('\n')) {
    if (line === 'No matching flows') continue;
    const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(line);
    if (!m) {
      if (line.trim()) throw new Error(`nfdump printed ${JSON.stringify(line)} for ${filter}`);
      continue;
    }
    t.flows++;
    t.packets += Number(m[1]);
    t.bytes += Number(m[2]);
  }
  return { totals: t };
}

before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'cr-filter-'));
  const port = await freeUdpPort();
  const nf = await startNfcapd(work, port);
  const sock = createSocket('udp4');
  try {
    const all = datagrams(generate());
    const until = Date.now() + 60_000;
    for (let i = 0; i < all.length && Date.now() < until; i++) {
      await new Promise<void>((res, rej) =>
        sock.send(all[i], port, '127.0.0.1', (e) => (e ? rej(e) : res())),
      );
      // Paced: nfcapd reads one datagram at a time; a loaded machine must not make the kernel drop any.
      await sleep(1);
    }
  } finally {
    sock.close();
  }
  await sleep(300);
  file = await stopNfcapd(nf, work);
  db = join(work, 'store.duckdb');
  await runCli(['ingest', '--db', db, '--no-detect', file]);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('nfcapd received the whole stream and coinradar stored the same flows', { skip }, async () => {
  const all = nfdump('any').totals!;
  assert.equal(
    all.flows,
    FLOWS,
    `nfcapd stored ${all.flows} of ${FLOWS} flows (datagrams lost on loopback?)`,
  );
  const s = JSON.parse((await runCli(['summary', '--db', db, '--format', 'json'])).out);
  assert.deepEqual(
    { flows: s.total.flows, packets: s.total.packets, bytes: s.total.bytes },
    all,
    'coinradar and nfdump totals over the whole file',
  );
});

test(
  `${FILTERS.length} filters: the same flows, packets and bytes as nfdump -r FILE 'FILTER'`,
  { skip },
  async () => {
    assert.ok(FILTERS.length >= 30);
    const differ: string[] = [];
    let nonEmpty = 0;
    for (const [i, f] of FILTERS.entries()) {
      const theirs = nfdump(f);
      assert.ok(theirs.totals, `nfdump accepts ${f}: ${theirs.error}`);
      const s = JSON.parse((await runCli(['summary', '--db', db, '--filter', f, '--format', 'json'])).out);
      const ours: Totals = { flows: s.total.flows, packets: s.total.packets, bytes: s.total.bytes };
      // `flows` plans the text view (~0.5 s a call): every third filter; summary for all of them.
      if (i % 3 === 0) {
        const rows = (
          await runCli(['flows', '--db', db, '--filter', f, '--format', 'jsonl', '--limit', '100000'])
        ).out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { packets: number; bytes: number });
        const t: Totals = {
          flows: rows.length,
          packets: rows.reduce((a, r) => a + r.packets, 0),
          bytes: rows.reduce((a, r) => a + r.bytes, 0),
        };
        if (JSON.stringify(t) !== JSON.stringify(theirs.totals))
          differ.push(`${f}: nfdump ${JSON.stringify(theirs.totals)}, flows ${JSON.stringify(t)}`);
      }
      if (JSON.stringify(ours) !== JSON.stringify(theirs.totals))
        differ.push(`${f}: nfdump ${JSON.stringify(theirs.totals)}, summary ${JSON.stringify(ours)}`);
      if (theirs.totals!.flows > 0 && theirs.totals!.flows < FLOWS) nonEmpty++;
    }
    assert.deepEqual(differ, [], differ.join('\n'));
    // The list discriminates: most filters select some but not all flows.
    assert.ok(
      nonEmpty >= FILTERS.length - 3,
      `${nonEmpty} of ${FILTERS.length} filters select a proper subset`,
    );
  },
);

test(
  `${REJECTED.length} filters nfdump rejects are rejected by coinradar too (position and expectation named)`,
  { skip },
  async () => {
    for (const f of REJECTED) {
      const theirs = nfdump(f);
      assert.ok(theirs.error !== undefined, `nfdump rejects ${f}`);
      await assert.rejects(
        runCli(['flows', '--db', db, '--filter', f]),
        /--filter: position \d+: expected /,
        `coinradar rejects ${f} (nfdump: ${theirs.error})`,
      );
    }
  },
);

// Debian's nfdump 1.7.1 runs no `as` filter without its own geo database (-G; Debian ships no tool
// to build one): `as` is compared in test/flow/nfdump-filter.test.ts only. Should a later nfdump
// run them, this fails, and the AS filters belong in the list above.
test('nfdump 1.7.1 refuses AS filters without a geo database (why the list has none)', { skip }, () => {
  const r = nfdump('as 15169');
  assert.match(r.error ?? 'accepted', /geo/i);
});

test('--filter ANDed with --where over the typed time column first_ts', { skip }, async () => {
  const total = async (where: string) =>
    JSON.parse(
      (await runCli(['summary', '--db', db, '--filter', 'proto tcp', '--where', where, '--format', 'json']))
        .out,
    ).total as Totals & { sources: number };
  const tcp = nfdump('proto tcp').totals!;
  const in2017 = await total("year(first_ts) = 2017 AND first_ts >= TIMESTAMP '2017-05-17 11:00:00'");
  assert.deepEqual({ flows: in2017.flows, packets: in2017.packets, bytes: in2017.bytes }, tcp);
  assert.equal((await total('year(first_ts) = 2016')).flows, 0);
  // The flows command prints first as text; first_ts is the column to compute with.
  const [row] = (
    await runCli([
      'flows',
      '--db',
      db,
      '--filter',
      'host 8.8.8.8',
      '--where',
      'year(first_ts) = 2017',
      '--format',
      'jsonl',
      '--limit',
      '1',
    ])
  ).out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { first: string });
  assert.match(row.first, /^2017-05-17T1[01]:/);
});
