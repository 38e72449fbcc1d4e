import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flowBatches } from '../../src/scenario/generate.js';
import { readUdpPayloads } from '../../src/scenario/pcap.js';
import { recordsInDatagram, replay } from '../../src/scenario/replay.js';
import { buildWorld, defaultConfig } from '../../src/scenario/world.js';
import { writeScenario } from '../../src/scenario/write.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function expected(world: ReturnType<typeof buildWorld>) {
  let records = 0;
  let packets = 0;
  let bytes = 0;
  for (const b of flowBatches(world)) {
    for (let i = 0; i < b.length; i++) {
      if (b.packets[i] > 0) records++;
      if (b.revPackets[i] > 0) records++;
      packets += b.packets[i] + b.revPackets[i];
      bytes += b.bytes[i] + b.revBytes[i];
    }
  }
  return { records, packets, bytes };
}

for (const format of ['netflow9', 'ipfix'] as const) {
  test(`${format} export: every datagram fits the MTU; nfcapd/nfdump (a real collector) read back every record`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cr-scn-'));
    try {
      const world = buildWorld(
        defaultConfig({
          seed: 4,
          days: 1,
          startMs: Date.UTC(2017, 4, 17),
          hosts: 15,
          sampling: format === 'ipfix' ? 10 : 1,
        }),
      );
      const s = writeScenario(world, dir, { format });
      const want = expected(world);
      assert.equal(s.records, want.records);
      let n = 0;
      let recs = 0;
      let last = 0;
      for (const d of readUdpPayloads(join(dir, 'export.pcap'))) {
        assert.ok(d.payload.length <= 1472, `datagram of ${d.payload.length} bytes`);
        assert.equal(d.payload.readUInt16BE(0), format === 'netflow9' ? 9 : 10);
        assert.ok(d.timeMs >= last - 1000, 'export times advance');
        last = Math.max(last, d.timeMs);
        recs += recordsInDatagram(d.payload);
        n++;
      }
      assert.equal(n, s.datagrams);
      assert.equal(recs, want.records);
      if (!have('nfcapd') || !have('nfdump')) {
        t.skip('nfcapd/nfdump not installed');
        return;
      }
      const out = join(dir, 'nfc');
      spawnSync('mkdir', ['-p', out]);
      const port = 20000 + Math.floor(Math.random() * 20000);
      const nf = spawn(
        'nfcapd',
        ['-w', out, '-p', String(port), '-b', '127.0.0.1', '-t', '3600', '-B', '4194304'],
        { stdio: 'ignore' },
      );
      await new Promise((r) => setTimeout(r, 800));
      await replay(join(dir, 'export.pcap'), { host: '127.0.0.1', port }, 20000);
      await new Promise((r) => setTimeout(r, 800));
      nf.kill('SIGTERM');
      await new Promise((r) => nf.once('exit', r));
      const files = readdirSync(out).filter((f) => f.startsWith('nfcapd.'));
      assert.ok(files.length > 0, 'nfcapd wrote a file');
      const info = spawnSync('nfdump', ['-R', out, '-I'], { encoding: 'utf8' }).stdout;
      const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(info)?.[1]);
      assert.equal(get('Flows'), want.records);
      assert.equal(get('Packets'), want.packets);
      assert.equal(get('Bytes'), want.bytes);
      const first = spawnSync('nfdump', ['-R', out, '-q', '-c', '1', '-o', 'fmt:%ts'], {
        encoding: 'utf8',
        env: { ...process.env, TZ: 'UTC' },
      }).stdout;
      assert.match(first, /2017-05-17 00:0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('pcap format: a capture with Stratum payloads that tshark reads as valid TCP', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-cap-'));
  try {
    const world = buildWorld(
      defaultConfig({
        seed: 4,
        days: 1,
        startMs: Date.UTC(2017, 4, 17),
        hosts: 20,
        miners: 2,
        btcNodes: 0,
        growth: 'step',
      }),
    );
    const s = writeScenario(world, dir, { format: 'pcap', captureHours: 0.25, captureHosts: 1 });
    assert.ok(s.packets > 100);
    if (!have('tshark')) {
      t.skip('tshark not installed');
      return;
    }
    const r = spawnSync(
      'tshark',
      [
        '-r',
        join(dir, 'capture.pcap'),
        '-o',
        'tcp.check_checksum:TRUE',
        '-Y',
        'tcp.checksum.status == 0 || ip.checksum.status == 0 || _ws.malformed',
        '-T',
        'fields',
        '-e',
        'frame.number',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.stdout.trim(), '', 'no bad checksums or malformed frames');
    const wallets = world.crypto.filter((c) => c.kind === 'miner').map((c) => c.wallet!);
    const text = spawnSync('tshark', ['-r', join(dir, 'capture.pcap'), '-T', 'fields', '-e', 'tcp.payload'], {
      encoding: 'utf8',
    }).stdout;
    const ascii = Buffer.from(text.replace(/[^0-9a-f]/g, ''), 'hex').toString('latin1');
    for (const w of wallets) assert.ok(ascii.includes(w), `login with wallet ${w} in the capture`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
