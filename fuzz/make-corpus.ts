/**
 * Builds fuzz/corpus/TARGET/ from the project's fixtures (test/fixtures, real captures, lists and
 * a block; provenance in test/fixtures/PROVENANCE.md) and ../shared/data. Seeds are cut small
 * (the first packets of a capture, the first transactions of a block, the first rows of a list):
 * the fuzzer mutates them, and a small seed is a fast execution. Run it again to rebuild:
 *   node --import tsx fuzz/make-corpus.ts
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParsedBlock } from '../src/chain/block.js';
import { buildBlock, coinbaseTx, serializeTx } from '../src/chain/synthetic.js';
import { Decoded, DecodedPacket, decodePacket } from '../src/capture/decode.js';
import { readCapture } from '../src/capture/reader.js';
import { Diagnostics } from '../src/flow/diagnostics.js';
import { BENCH_V9_FIELDS, benchV9Stream } from '../src/netflow/encode.js';
import { ZEEK_CONN_FIELDS, ZEEK_CONN_TYPES } from '../src/netflow/zeek.js';
import { generateSdnAdvancedXml } from '../src/sanctions/sdn-advanced-generate.js';
import { TUNNEL_CASES, tunnelPcap } from '../test/capture/tunnel-synth.js';
import { FRAGMENT_CASES, fragmentPcap } from '../test/capture/fragment-synth.js';
import { frame } from './frames.js';
import { FlowBatch } from '../src/flow/record.js';
import { Spool } from '../src/netflow/spool.js';
import { sflowSeedDatagrams } from '../src/sflow/encode.js';
import { corpusDir } from './target.js';

const FIX = 'test/fixtures';
/** ndpi-train captures of tunnels and of the PPP / Cisco HDLC link types. */
const NDPI_TUNNEL_CAPTURES = [
  '4in4tunnel.pcap',
  '6in6tunnel.pcap',
  'gre.pcapng',
  'vxlan.pcap',
  'ipv6_in_gtp.pcap',
  'gtp_false_positive.pcapng',
  'capwap_data.pcapng',
  'dlt_ppp.pcap',
  'BGP_Cisco_hdlc_slarp.pcap',
  // IPv4 and IPv6 fragments of DNS answers (reassembly).
  'dns_fragmented.pcap',
];
const SHARED = '../shared/data';

function put(target: string, name: string, data: Buffer | string): void {
  const dir = corpusDir(target);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), data);
}

/** The first `n` records of a pcap (24-byte header, 16-byte record headers; either byte order). */
function cutPcap(buf: Buffer, n: number): Buffer {
  const le = buf.readUInt32LE(0) === 0xa1b2c3d4 || buf.readUInt32LE(0) === 0xa1b23c4d;
  let p = 24;
  for (let k = 0; k < n && p + 16 <= buf.length; k++) {
    const incl = le ? buf.readUInt32LE(p + 8) : buf.readUInt32BE(p + 8);
    p += 16 + incl;
  }
  return buf.subarray(0, Math.min(p, buf.length));
}

/** The first `n` blocks of a pcapng (section header included). */
function cutPcapng(buf: Buffer, n: number): Buffer {
  const le = buf.readUInt32LE(8) === 0x1a2b3c4d;
  let p = 0;
  for (let k = 0; k < n && p + 12 <= buf.length; k++)
    p += le ? buf.readUInt32LE(p + 4) : buf.readUInt32BE(p + 4);
  return buf.subarray(0, Math.min(p, buf.length));
}

/** UDP payloads of a capture, framed for the decoder targets. */
async function exportDatagrams(path: string, max: number): Promise<Buffer> {
  const frames: Buffer[] = [];
  const d = new DecodedPacket();
  await readCapture(path, new Diagnostics(), (p) => {
    if (frames.length >= max) return;
    if (decodePacket(p.buf, p.offset, p.caplen, p.origLen, p.linkType, d) !== Decoded.Ok || d.proto !== 17)
      return;
    frames.push(frame(0, Buffer.from(p.buf.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength))));
  });
  return Buffer.concat(frames);
}

/** A block of the first `k` transactions of `raw` (header kept: the merkle root no longer fits). */
function cutBlock(raw: Buffer, k: number): Buffer {
  const b = new ParsedBlock().parse(raw, 0, raw.length, { txids: false });
  const n = Math.min(k, b.txCount);
  return Buffer.concat([raw.subarray(0, 80), Buffer.from([n]), raw.subarray(b.txStart[0], b.txEnd[n - 1])]);
}

function blkRecord(block: Buffer): Buffer {
  const h = Buffer.alloc(8);
  Buffer.from('f9beb4d9', 'hex').copy(h);
  h.writeUInt32LE(block.length, 4);
  return Buffer.concat([h, block]);
}

/** nfdump CSV rows (the fixture) as Zeek conn.log connections, in both of Zeek's layouts. */
function zeekFromNfdump(csv: string): { tsv: string; json: string } {
  const lines = csv.split('\n').filter((l) => /^\d{4}-/.test(l));
  const header = csv.split('\n')[0].split(',');
  const col = (name: string) => header.indexOf(name);
  const rows = lines.map((l, i) => {
    const f = l.split(',');
    const ts = Date.parse(`${f[col('ts')]}Z`) / 1000;
    const te = Date.parse(`${f[col('te')]}Z`) / 1000;
    const pr = f[col('pr')];
    return {
      ts,
      uid: `C${(i + 1).toString(36).padStart(17, 'x')}`,
      'id.orig_h': f[col('sa')],
      'id.orig_p': Number(f[col('sp')]),
      'id.resp_h': f[col('da')],
      'id.resp_p': Number(f[col('dp')]),
      proto: pr === 'TCP' ? 'tcp' : pr === 'UDP' ? 'udp' : 'icmp',
      duration: te - ts,
      orig_bytes: Number(f[col('ibyt')]),
      resp_bytes: Number(f[col('obyt')] ?? 0) || 0,
      conn_state: 'SF',
      history: pr === 'TCP' ? 'ShADadFf' : 'Dd',
      orig_pkts: Number(f[col('ipkt')]),
      orig_ip_bytes: Number(f[col('ibyt')]),
      resp_pkts: Number(f[col('opkt')] ?? 0) || 0,
      resp_ip_bytes: Number(f[col('obyt')] ?? 0) || 0,
    } as Record<string, string | number>;
  });
  // Zeek writes times with six decimals in TSV and as plain numbers in JSON.
  const text = (k: string, v: string | number | undefined) =>
    v === undefined
      ? '-'
      : typeof v === 'number' && (k === 'ts' || k === 'duration')
        ? v.toFixed(6)
        : String(v);
  const tsvRows = rows.map((r) => ZEEK_CONN_FIELDS.map((k) => text(k, r[k])).join('\t'));
  const tsv = [
    '#separator \\x09',
    '#set_separator\t,',
    '#empty_field\t(empty)',
    '#unset_field\t-',
    '#path\tconn',
    '#open\t2024-01-01-00-00-00',
    `#fields\t${ZEEK_CONN_FIELDS.join('\t')}`,
    `#types\t${ZEEK_CONN_TYPES.join('\t')}`,
    ...tsvRows,
    '#close\t2024-01-01-00-00-01',
    '',
  ].join('\n');
  const json = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  return { tsv, json };
}

async function main(): Promise<void> {
  rmSync('fuzz/corpus', { recursive: true, force: true });

  // Captures: the first packets of each real capture.
  for (const dir of [`${FIX}/pcap/ndpi`, `${FIX}/pcap/nesfit`]) {
    for (const f of readdirSync(dir).filter((x) => /\.pcap(ng)?$/.test(x))) {
      const buf = readFileSync(join(dir, f));
      if (buf.readUInt32BE(0) === 0x0a0d0d0a) put('pcapng', `${f}.cut`, cutPcapng(buf, 24));
      else put('pcap', `${f}.cut`, cutPcap(buf, 24));
    }
  }
  // Tunnels and link types: a capture per case the decoder opens (built in code, test/capture/
  // tunnel-synth.ts) and the first packets of ndpi-train's real tunnel and PPP/HDLC captures, so
  // that mutation starts inside every decapsulation path.
  for (const c of TUNNEL_CASES) {
    put(
      'pcap',
      `tunnel-${c.name
        .replace(/[^a-zA-Z0-9]+/g, '-')
        .replace(/^-|-$/g, '')
        .toLowerCase()}.pcap`,
      tunnelPcap(c),
    );
  }
  // Fragments: a capture per case reassembly handles (test/capture/fragment-synth.ts).
  for (const c of FRAGMENT_CASES)
    put('pcap', `fragments-${c.name.replace(/[^a-zA-Z0-9]+/g, '-')}.pcap`, fragmentPcap(c));
  for (const f of NDPI_TUNNEL_CAPTURES) {
    const path = join(SHARED, 'pcap/ndpi-train', f);
    if (!existsSync(path)) continue;
    const buf = readFileSync(path);
    if (buf.readUInt32BE(0) === 0x0a0d0d0a) put('pcapng', `${f}.cut`, cutPcapng(buf, 12));
    else put('pcap', `${f}.cut`, cutPcap(buf, 8));
  }
  for (const f of readdirSync(`${FIX}/netflow`).filter((x) => /\.pcap(ng)?$/.test(x))) {
    const buf = readFileSync(join(`${FIX}/netflow`, f));
    put('netflow-pcap', f, buf.readUInt32BE(0) === 0x0a0d0d0a ? buf : cutPcap(buf, 6));
  }

  // Export datagrams, framed.
  put(
    'netflow-v5',
    'softflowd-v5-gnutella.frames',
    await exportDatagrams(`${FIX}/netflow/softflowd-v5-gnutella.pcap`, 4),
  );
  put(
    'netflow-v9',
    'softflowd-v9-bitcoin.frames',
    await exportDatagrams(`${FIX}/netflow/softflowd-v9-bitcoin.pcapng`, 8),
  );
  put(
    'netflow-v9',
    'bench-v9.frames',
    Buffer.concat([...benchV9Stream(3, 4, 2)].map((d, i) => frame(i % 2, d))),
  );
  void BENCH_V9_FIELDS;
  put(
    'ipfix',
    'softflowd-ipfix-bidir-mining.frames',
    await exportDatagrams(`${FIX}/netflow/softflowd-ipfix-bidir-mining.pcap`, 8),
  );

  // sFlow: real datagrams (pmacctd's sfprobe) and encoded ones of every sample and record kind.
  put(
    'sflow',
    'pmacct-sfprobe-bitcoin.frames',
    await exportDatagrams(`${FIX}/sflow/pmacct-sfprobe-bitcoin.pcap`, 6),
  );
  put('sflow', 'encoded-kinds.frames', Buffer.concat(sflowSeedDatagrams().map((d, i) => frame(i % 2, d))));

  // nfdump CSV and Zeek conn.log (the same real flows in Zeek's layouts).
  for (const f of readdirSync(`${FIX}/nfdump`).filter((x) => x.endsWith('.csv'))) {
    const text = readFileSync(join(`${FIX}/nfdump`, f), 'utf8');
    put('nfdump-csv', f, text);
    const z = zeekFromNfdump(text);
    put('zeek-tsv', f.replace(/\.csv$/, '.conn.log'), z.tsv);
    put('zeek-json', f.replace(/\.csv$/, '.conn.json'), z.json);
  }

  // nfcapd files (nfcapd 1.7.1 from softflowd's export of a real capture: plain, LZO, LZ4, BZ2).
  for (const f of readdirSync(`${FIX}/netflow/nfcapd`))
    put('nfcapd', f, readFileSync(join(`${FIX}/netflow/nfcapd`, f)));

  // Chain: a real block (LTC/BTC-style serialization) cut to its first transactions, and blk files.
  const raw = readFileSync(`${FIX}/chain/block413567.raw`);
  const small = [1, 3, 12].map((k) => cutBlock(raw, k));
  small.forEach((b, i) => put('raw-block', `block413567-first-${[1, 3, 12][i]}-txs.raw`, b));
  put('raw-block', 'block413567.raw', raw);
  // Block 413567 predates segwit: a built block adds the segwit serialization and every output
  // script template classifyScript knows (P2PK, P2PKH, P2SH, P2WPKH, P2WSH, P2TR, a future witness
  // version, OP_RETURN, multisig), so mutations start from them rather than having to invent them.
  const key33 = Buffer.concat([Buffer.from([0x02]), Buffer.alloc(32, 7)]);
  const scripts = [
    Buffer.concat([Buffer.from([33]), key33, Buffer.from([0xac])]),
    Buffer.concat([Buffer.from([0x76, 0xa9, 0x14]), Buffer.alloc(20, 1), Buffer.from([0x88, 0xac])]),
    Buffer.concat([Buffer.from([0xa9, 0x14]), Buffer.alloc(20, 2), Buffer.from([0x87])]),
    Buffer.concat([Buffer.from([0x00, 0x14]), Buffer.alloc(20, 3)]),
    Buffer.concat([Buffer.from([0x00, 0x20]), Buffer.alloc(32, 4)]),
    Buffer.concat([Buffer.from([0x51, 0x20]), Buffer.alloc(32, 5)]),
    Buffer.concat([Buffer.from([0x52, 0x10]), Buffer.alloc(16, 6)]),
    Buffer.from('6a0b636f696e7261646172210a', 'hex'),
    Buffer.concat([Buffer.from([0x51, 33]), key33, Buffer.from([33]), key33, Buffer.from([0x52, 0xae])]),
  ];
  const spend = serializeTx(
    [
      { prevTxid: Buffer.alloc(32, 9), vout: 1, witness: [Buffer.alloc(71, 0x30), key33] },
      { prevTxid: Buffer.alloc(32, 10), vout: 0, script: Buffer.from([0x00]), witness: [] },
    ],
    scripts.map((script, k) => ({ value: 1000 * (k + 1), script })),
  );
  const txs = [coinbaseTx(481824, [{ value: 1250000000, script: scripts[1] }], '/fuzz/'), spend];
  // buildBlock hashes whole transactions; a segwit txid leaves the witness out: take the parser's.
  const draftBlock = buildBlock(Buffer.alloc(32), txs, 1503539857);
  const draft = new ParsedBlock().parse(draftBlock, 0, draftBlock.length);
  const txids = [0, 1].map((t) => Buffer.from(draft.txid.subarray(t * 32, t * 32 + 32)));
  const segwit = buildBlock(Buffer.alloc(32), txs, 1503539857, txids);
  put('raw-block', 'built-segwit-every-script.raw', segwit);
  put('blk-file', 'blk-segwit.dat', blkRecord(segwit));
  put('blk-file', 'blk-two-blocks.dat', Buffer.concat([blkRecord(small[0]), blkRecord(small[1])]));
  put('blk-file', 'blk-preallocated.dat', Buffer.concat([blkRecord(small[2]), Buffer.alloc(256)]));

  // Sanctions lists.
  const sdn = readFileSync(`${FIX}/sanctions/sdn.csv`, 'latin1').split('\n');
  put('sdn-csv', 'sdn-head.csv', Buffer.from(sdn.slice(0, 60).join('\n') + '\n', 'latin1'));
  put(
    'sdn-csv',
    'sdn-digital-currency.csv',
    Buffer.from(
      sdn
        .filter((l) => l.includes('Digital Currency Address'))
        .slice(0, 40)
        .join('\n') + '\n',
      'latin1',
    ),
  );
  // The set: sdn.csv rows with digital currency addresses, and their add.csv / alt.csv rows.
  const setRows = sdn.filter((l) => l.includes('Digital Currency Address')).slice(0, 12);
  const ents = new Set(setRows.map((l) => l.split(',')[0]));
  const rowsOf = (file: string) =>
    readFileSync(`${FIX}/sanctions/${file}`, 'latin1')
      .split('\n')
      .filter((l) => ents.has(l.split(',')[0]))
      .slice(0, 40)
      .join('\n');
  const comments = join(SHARED, 'sanctions/sdn_comments-subset.csv');
  if (existsSync(comments))
    put('sdn-csv-set', 'comments-subset.frames', frame(3, readFileSync(comments).subarray(0, 8192)));
  put(
    'sdn-csv-set',
    'sdn-add-alt.frames',
    Buffer.concat(
      [setRows.join('\n'), rowsOf('add.csv'), rowsOf('alt.csv')].map((t, role) =>
        frame(role, Buffer.from(`${t}\n`, 'latin1')),
      ),
    ),
  );
  const lists = `${FIX}/sanctions/ofac-address-lists-2024-09`;
  for (const c of ['XBT', 'ETH', 'XMR', 'LTC']) {
    const p = join(lists, `sanctioned_addresses_${c}.json`);
    if (existsSync(p)) put('address-json', `${c}.json`, readFileSync(p));
  }
  const userRows = ['coin,address,label,entity'];
  for (const c of ['XBT', 'ETH', 'XMR']) {
    const p = join(lists, `sanctioned_addresses_${c}.json`);
    if (!existsSync(p)) continue;
    for (const a of (JSON.parse(readFileSync(p, 'utf8')) as string[]).slice(0, 8))
      userRows.push(`${c},${a},"listed ${c}, 2024-09",ofac`);
  }
  put('address-csv', 'user-list.csv', userRows.join('\n') + '\n');
  const gen = join(corpusDir('sdn-xml'), 'generated.xml');
  mkdirSync(corpusDir('sdn-xml'), { recursive: true });
  await generateSdnAdvancedXml(gen, { targetBytes: 12_000, seed: 7, addressEvery: 2 });
  const real = join(SHARED, 'sanctions/sdn-advanced/sdn_advanced-2024-09-26.xml.bz2');
  if (existsSync(real)) {
    // The real file's head: namespaces, the reference value sets and the first profiles (cut).
    const head = execFileSync('sh', ['-c', `bzcat '${real}' | head -c 65536`], { maxBuffer: 1 << 20 });
    put('sdn-xml', 'sdn_advanced-2024-09-26-head.xml', head);
  }

  // API bodies and paths.
  const listed = '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ';
  put('api-body', 'one.json', JSON.stringify({ addresses: [listed] }));
  put(
    'api-body',
    'mixed.json',
    JSON.stringify({ addresses: [listed, '0x098B716B8Aaf21512996dC57EB0615e2383E2f96', 'x'] }),
  );
  put('api-body', 'empty.json', '{"addresses":[]}');
  for (const t of ['api-path', 'api-nokey']) {
    put(t, 'screen.txt', `/v1/screen/${listed}`);
    put(t, 'lists.txt', '/v1/lists');
    put(t, 'healthz.txt', '/healthz');
    put(t, 'screen-query.txt', `/v1/screen/${listed}?format=json`);
  }

  // Behaviour tracker rows (fuzz/targets/tracker.ts layout): a miner-like session (a record a minute,
  // 12 packets of ~200 B each way: the model calls it mining) among other groups, and the same with odd times mixed in.
  const row = (o: {
    flags?: number;
    c: number;
    s: number;
    sport: number;
    dport: number;
    step: number;
    dur: number;
    pk: number;
    bpp: number;
  }) => {
    const r = Buffer.alloc(24);
    r[0] = o.flags ?? 0;
    r[1] = o.c;
    r[2] = o.s;
    r.writeUInt16BE(o.sport, 3);
    r.writeUInt16BE(o.dport, 5);
    r[7] = 0x18;
    r.writeInt32BE(o.step, 8);
    r.writeUInt32BE(o.dur, 12);
    r.writeUInt16BE(o.pk, 16);
    r.writeUInt16BE(o.pk, 18);
    r.writeUInt16BE(o.bpp, 20);
    r.writeUInt16BE(o.bpp + 20, 22);
    return r;
  };
  const miner: Buffer[] = [];
  for (let k = 0; k < 400; k++) {
    miner.push(row({ c: 7, s: 9, sport: 43000, dport: 3333, step: 60_000, dur: 59_000, pk: 12, bpp: 200 }));
    if (k % 5 === 0)
      miner.push(
        row({
          c: k & 255,
          s: (k * 7) & 255,
          sport: 50000 + k,
          dport: 443,
          step: 0,
          dur: 2_000,
          pk: 3,
          bpp: 600,
        }),
      );
  }
  put('behaviour-tracker', 'miner-among-others.bin', Buffer.concat(miner));
  put(
    'behaviour-tracker',
    'odd-times.bin',
    Buffer.concat(
      miner.slice(0, 200).map((r, k) => {
        const x = Buffer.from(r);
        if (k % 7 === 0) x[0] |= ((k % 5) + 1) << 1;
        if (k % 11 === 0) x.writeInt32BE(-3_600_000, 8);
        if (k % 13 === 0) x[0] |= 1;
        return x;
      }),
    ),
  );
  spoolSeeds();
}

/** The spool target's seeds: a spool of three batches as a collector writes it, and one cut short. */
function spoolSeeds(): void {
  const dir = mkdtempSync(join(tmpdir(), 'cr-spool-seed-'));
  try {
    const { spool } = Spool.open(dir);
    for (const [first, n] of [
      [0, 3],
      [3, 1],
      [4, 5],
    ]) {
      const b = new FlowBatch(8, 'udp://127.0.0.1:2055');
      for (let i = 0; i < n; i++) {
        b.firstMs[i] = 1.5e12 + first + i;
        b.ipVersion[i] = 4;
        b.src.set([10, 0, 0, first + i], i * 16);
        b.packets[i] = first + i + 1;
        b.exporterIdx[i] = 1;
      }
      b.length = n;
      b.exporters = ['', '192.0.2.1'];
      spool.append(b);
    }
    const whole = readFileSync(join(dir, 'held.spool'));
    spool.clear();
    spool.close();
    put('spool', 'three-batches.bin', whole);
    put('spool', 'cut-short.bin', whole.subarray(0, whole.length - 7));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
