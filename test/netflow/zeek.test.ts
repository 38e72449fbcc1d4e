import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { detectFormat } from '../../src/flow/formats.js';
import { readHead } from '../../src/flow/ingest.js';
import type { FlowRecord } from '../../src/flow/record.js';
import '../../src/flow/all-formats.js';
import { readNfdumpCsv } from '../../src/netflow/nfdump-csv.js';
import {
  ZEEK_CONN_FIELDS,
  ZEEK_CONN_TYPES,
  readZeekJson,
  readZeekTsv,
  zeekTcpFlags,
} from '../../src/netflow/zeek.js';

const dir = mkdtempSync(join(tmpdir(), 'zeek-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A connection as Zeek logs it; the test writes these in both of Zeek's layouts. */
interface Conn {
  ts: number; // ms
  uid: string;
  origH: string;
  origP: number;
  respH: string;
  respP: number;
  proto: 'tcp' | 'udp' | 'icmp';
  service?: string;
  durationMs?: number;
  origBytes?: number;
  respBytes?: number;
  connState: string;
  history?: string;
  origPkts: number;
  origIpBytes: number;
  respPkts: number;
  respIpBytes: number;
}

const sec = (ms: number) => (ms / 1000).toFixed(6);

function tsvLine(c: Conn): string {
  const u = (v: string | number | undefined, f: (x: never) => string = String) =>
    v === undefined ? '-' : f(v as never);
  return [
    sec(c.ts), c.uid, c.origH, c.origP, c.respH, c.respP, c.proto, u(c.service), u(c.durationMs, sec),
    u(c.origBytes), u(c.respBytes), c.connState, '-', '-', 0, u(c.history), c.origPkts, c.origIpBytes, c.respPkts,
    c.respIpBytes, '-',
  ].join('\t'); // prettier-ignore
}

function tsvLog(conns: Conn[], fields = ZEEK_CONN_FIELDS, types = ZEEK_CONN_TYPES): string {
  return [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    '#path\tconn',
    '#open\t2011-03-28-15-58-57',
    `#fields\t${fields.join('\t')}`,
    `#types\t${types.join('\t')}`,
    ...conns.map(tsvLine),
    '#close\t2011-03-28-16-30-10',
    '',
  ].join('\n');
}

function jsonLine(c: Conn): string {
  const o: Record<string, unknown> = {
    ts: c.ts / 1000,
    uid: c.uid,
    'id.orig_h': c.origH,
    'id.orig_p': c.origP,
    'id.resp_h': c.respH,
    'id.resp_p': c.respP,
    proto: c.proto,
    service: c.service,
    duration: c.durationMs === undefined ? undefined : c.durationMs / 1000,
    orig_bytes: c.origBytes,
    resp_bytes: c.respBytes,
    conn_state: c.connState,
    missed_bytes: 0,
    history: c.history,
    orig_pkts: c.origPkts,
    orig_ip_bytes: c.origIpBytes,
    resp_pkts: c.respPkts,
    resp_ip_bytes: c.respIpBytes,
  };
  return JSON.stringify(o); // undefined (unset) fields are left out, as Zeek does
}

/** The flows Zeek's fields stand for, computed from the test's own values (not by the reader). */
function expected(c: Conn, flags: number): Partial<FlowRecord> {
  const v6 = c.origH.includes(':');
  return {
    firstMs: c.ts,
    lastMs: c.ts + (c.durationMs ?? 0),
    ipVersion: v6 ? 6 : 4,
    src: c.origH,
    dst: c.respH,
    srcPort: c.origP,
    dstPort: c.respP,
    proto: c.proto === 'tcp' ? 6 : c.proto === 'udp' ? 17 : v6 ? 58 : 1,
    packets: c.origPkts,
    bytes: c.origIpBytes,
    revPackets: c.respPkts,
    revBytes: c.respIpBytes,
    tcpFlags: flags,
  };
}

const COMPARED = ['firstMs', 'lastMs', 'ipVersion', 'src', 'dst', 'srcPort', 'dstPort', 'proto', 'packets', 'bytes', 'revPackets', 'revBytes', 'tcpFlags'] as const; // prettier-ignore

function pick(r: FlowRecord): Partial<FlowRecord> {
  return Object.fromEntries(COMPARED.map((k) => [k, r[k]]));
}

async function readAll(
  read: typeof readZeekTsv,
  path: string,
  batchSize = 4096,
): Promise<{ flows: FlowRecord[]; d: Diagnostics }> {
  const d = new Diagnostics();
  const flows: FlowRecord[] = [];
  for await (const b of read(path, { diagnostics: d, batchSize })) flows.push(...b.records());
  return { flows, d };
}

/**
 * Source connections: the six bidirectional flows softflowd made of bitcoin.pcap (from the
 * checked-in nfdump CSV; initiator = the side not on port 8333), plus UDP/IPv6, ICMP and
 * ICMPv6 connections and one with unset duration/history.
 */
async function sourceConns(): Promise<{ conns: Conn[]; flags: number[] }> {
  const d = new Diagnostics();
  const conns: Conn[] = [];
  const flags: number[] = [];
  const histories = ['ShADadFf', 'ShADadfF', 'ShADdaR', 'ShAD', 'ShADadFfR', 'ShADda'];
  const histFlags = [0x1b, 0x1b, 0x1e, 0x1a, 0x1f, 0x1a];
  let k = 0;
  for await (const b of readNfdumpCsv('test/fixtures/nfdump/bitcoin-ipfix-bidir.csv', { diagnostics: d })) {
    for (const f of b.records()) {
      const flip = f.srcPort === 8333;
      conns.push({
        ts: f.firstMs, uid: `CzNf${k}q2aWbGQ1tw8`, proto: 'tcp', service: k % 2 ? undefined : 'bitcoin',
        origH: flip ? f.dst : f.src, origP: flip ? f.dstPort : f.srcPort, respH: flip ? f.src : f.dst, respP: flip ? f.srcPort : f.dstPort,
        durationMs: f.lastMs - f.firstMs, origBytes: 1000 + k, respBytes: 2000 + k, connState: 'SF', history: histories[k],
        origPkts: flip ? f.revPackets : f.packets, origIpBytes: flip ? f.revBytes : f.bytes,
        respPkts: flip ? f.packets : f.revPackets, respIpBytes: flip ? f.bytes : f.revBytes,
      }); // prettier-ignore
      flags.push(histFlags[k]);
      k++;
    }
  }
  assert.equal(conns.length, 6);
  conns.push(
    { ts: 1494979200123.456, uid: 'Cudp6', origH: '2001:db8::2', origP: 53124, respH: '2001:4860:4860::8888', respP: 53, proto: 'udp', service: 'dns', durationMs: 12.345, origBytes: 33, respBytes: 49, connState: 'SF', history: 'Dd', origPkts: 1, origIpBytes: 81, respPkts: 1, respIpBytes: 97 },
    { ts: 1494979201000, uid: 'Cicmp', origH: '175.45.176.9', origP: 8, respH: '8.8.8.8', respP: 0, proto: 'icmp', durationMs: 1001, connState: 'OTH', origPkts: 2, origIpBytes: 168, respPkts: 2, respIpBytes: 168 },
    { ts: 1494979202000, uid: 'Cicmp6', origH: 'fe80::1', origP: 135, respH: 'ff02::1:ff00:2', respP: 0, proto: 'icmp', connState: 'OTH', origPkts: 1, origIpBytes: 72, respPkts: 0, respIpBytes: 0 },
    { ts: 1494979203000, uid: 'Crej', origH: '10.0.0.1', origP: 40000, respH: '10.0.0.2', respP: 3333, proto: 'tcp', connState: 'REJ', origPkts: 1, origIpBytes: 60, respPkts: 1, respIpBytes: 40 },
  ); // prettier-ignore
  flags.push(0, 0, 0, 0x06);
  return { conns, flags };
}

test('TCP flags from history, and from conn_state when there is none', () => {
  assert.equal(zeekTcpFlags('ShADadFf', 'SF'), 0x1b);
  assert.equal(zeekTcpFlags('ShR', 'RSTO'), 0x16);
  assert.equal(zeekTcpFlags('S', 'S0'), 0x02);
  assert.equal(zeekTcpFlags('^hADad', 'OTH'), 0x1a);
  assert.equal(zeekTcpFlags(undefined, 'REJ'), 0x06);
  assert.equal(zeekTcpFlags(undefined, 'S0'), 0x02);
  assert.equal(zeekTcpFlags(undefined, 'SF'), 0x13);
  assert.equal(zeekTcpFlags(undefined, 'OTH'), 0);
});

test('conn.log written as Zeek TSV and as JSON lines decodes to the same flows as the source', async () => {
  const { conns, flags } = await sourceConns();
  const want = conns.map((c, i) => expected(c, flags[i]));
  const tsv = join(dir, 'conn.log');
  const json = join(dir, 'conn.json');
  writeFileSync(tsv, tsvLog(conns));
  writeFileSync(json, conns.map(jsonLine).join('\n') + '\n');
  assert.equal(detectFormat(readHead(tsv))?.kind, 'zeek-tsv');
  assert.equal(detectFormat(readHead(json))?.kind, 'zeek-json');
  for (const [read, path] of [
    [readZeekTsv, tsv],
    [readZeekJson, json],
  ] as const) {
    const { flows, d } = await readAll(read, path, 4); // small batches: crosses batch boundaries
    assert.equal(d.get('problems'), 0, d.summary());
    assert.equal(d.get('records.kept'), conns.length);
    assert.deepEqual(flows.map(pick), want, path);
  }
  // The bitcoin.pcap connections keep the capture's totals (529 packets / 419,138 IP bytes).
  const { flows } = await readAll(readZeekTsv, tsv);
  const six = flows.slice(0, 6);
  assert.equal(
    six.reduce((s, f) => s + f.packets + f.revPackets, 0),
    529,
  );
  assert.equal(
    six.reduce((s, f) => s + f.bytes + f.revBytes, 0),
    419138,
  );
});

test('TSV: several header blocks with their own field order; JSON with ISO 8601 ts', async () => {
  const { conns } = await sourceConns();
  const order = [...ZEEK_CONN_FIELDS].reverse();
  const types = [...ZEEK_CONN_TYPES].reverse();
  const second = tsvLog(conns.slice(3, 5))
    .split('\n')
    .map((l) => (l.startsWith('#') || l === '' ? l : l.split('\t').reverse().join('\t')))
    .join('\n')
    .replace(`#fields\t${ZEEK_CONN_FIELDS.join('\t')}`, `#fields\t${order.join('\t')}`)
    .replace(`#types\t${ZEEK_CONN_TYPES.join('\t')}`, `#types\t${types.join('\t')}`);
  const path = join(dir, 'rotated.log');
  writeFileSync(path, tsvLog(conns.slice(0, 3)) + second);
  const { flows, d } = await readAll(readZeekTsv, path);
  assert.equal(d.get('problems'), 0, d.summary());
  assert.deepEqual(
    flows.map((f) => [f.src, f.srcPort, f.packets, f.firstMs]),
    conns.slice(0, 5).map((c) => [c.origH, c.origP, c.origPkts, c.ts]),
  );
  const iso = join(dir, 'iso.json');
  writeFileSync(
    iso,
    jsonLine(conns[0]).replace(/"ts":[0-9.]+/, `"ts":"${new Date(conns[0].ts).toISOString()}"`) + '\n',
  );
  const r = await readAll(readZeekJson, iso);
  assert.equal(r.flows[0].firstMs, conns[0].ts);
});

test('broken lines: each reported with its line, counted, every good connection kept', async () => {
  const { conns } = await sourceConns();
  const good = conns.slice(0, 6);
  // TSV: header is 8 lines, rows start at line 9.
  const rows = good.map(tsvLine);
  const broken = [
    rows[0],
    rows[1].split('\t').slice(0, 10).join('\t'), // line 10: short row
    rows[2],
    rows[3].replace(/\t(\d+)\t/, '\t99999\t'), // line 12: port out of range
    rows[4].replace(/^([^\t]+\t[^\t]+\t)[^\t]+/, '$1300.1.2.3'), // line 13: bad address
    rows[5],
  ];
  const tsv = join(dir, 'broken.log');
  writeFileSync(tsv, tsvLog([]).replace('#close', `${broken.join('\n')}\n#close`));
  const t = await readAll(readZeekTsv, tsv, 2);
  assert.deepEqual(
    t.d.problems.map((p) => [p.offset, p.unit, p.kind]),
    [
      [10, 'line', 'bad-row'],
      [12, 'line', 'bad-row'],
      [13, 'line', 'bad-row'],
    ],
  );
  assert.match(t.d.problems[0].message, /10 fields, #fields names 21/);
  assert.match(t.d.problems[1].message, /id.orig_p/);
  assert.match(t.d.problems[2].message, /not an IPv4 address/);
  assert.equal(t.d.get('records.skipped'), 3);
  assert.equal(t.d.get('records.kept'), 3);
  assert.deepEqual(
    t.flows.map((f) => f.src + ':' + f.srcPort),
    [0, 2, 5].map((k) => `${good[k].origH}:${good[k].origP}`),
  );

  const lines = good.map(jsonLine);
  lines.splice(1, 0, '{"ts":1301327937.7,"id.orig_h":"1.2.3.4"'); // line 2: cut short
  lines.splice(3, 0, '["not","an","object"]'); // line 4
  lines[5] = lines[5].replace('"orig_pkts":', '"orig_pkts":"x","was":'); // line 6: count as a string
  const json = join(dir, 'broken.json');
  writeFileSync(json, lines.join('\n') + '\n');
  const j = await readAll(readZeekJson, json, 2);
  assert.deepEqual(
    j.d.problems.map((p) => [p.offset, p.kind]),
    [
      [2, 'bad-json'],
      [4, 'bad-json'],
      [6, 'bad-row'],
    ],
  );
  assert.equal(j.d.get('records.skipped'), 3);
  assert.equal(j.d.get('records.kept'), 5);
  assert.equal(j.flows.length, 5);
});
