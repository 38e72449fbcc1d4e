import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/flow/all-formats.js';
import { ingestFile } from '../../src/flow/ingest.js';
import { openFlowStore } from '../../src/store/open.js';
import { DuckDbSeries } from '../../src/store/duckdb/series.js';
import { ether, ipv4, pcapFile, pcapRecord, type SynthPacket } from '../capture/synth.js';
import { runCli } from '../cli-run.js';

const DAY = 86_400_000;

/** One TCP packet of a distinct flow at the given time. */
function packet(tsMs: number, n: number): SynthPacket {
  return {
    tsMs,
    data: ether(ipv4(`10.0.${n >> 8}.${n & 255}`, '198.51.100.7', { sport: 40000 + n, dport: 3333 })),
  };
}

test('implausible flow times (epoch 0, the future) are a counted problem with their location, kept, and never stretch the series period', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coinradar-times-'));
  try {
    const good = Date.UTC(2023, 11, 10, 12);
    const packets: SynthPacket[] = [];
    for (let i = 0; i < 5; i++) packets.push(packet(good + i * DAY, i));
    packets.push(packet(0, 100)); // a device without a clock
    packets.push(packet(5000, 101));
    packets.push(packet(Date.now() + 400 * DAY, 102)); // the far future
    const file = join(dir, 'mixed.pcap');
    writeFileSync(file, pcapFile(packets));
    // Byte offset of the first epoch-0 packet: the 24-byte header and five earlier records.
    const firstBad = 24 + packets.slice(0, 5).reduce((a, p) => a + pcapRecord(p).length, 0);

    const db = join(dir, 'db.duckdb');
    const store = await openFlowStore(db);
    const r = await ingestFile(file, { store });
    await store.close();
    assert.equal(r.flows, 8, 'every flow is kept');
    assert.equal(r.diagnostics.get('flows.implausible-time'), 3);
    const p = r.diagnostics.problems.find((x) => x.kind === 'implausible-time');
    assert.ok(p, 'a problem names the implausible times');
    assert.equal(p.offset, firstBad);
    assert.equal(p.unit, 'byte');
    assert.match(p.message, /^3 flow\(s\) start before 1990 .*1970-01-01T00:00:00\.000Z/);

    const { series, close } = await DuckDbSeries.open(db);
    try {
      const d = await series.series({ bucket: 'day', scope: {} });
      assert.equal(d.fromMs, Date.UTC(2023, 11, 10));
      assert.equal(d.buckets.length, 5, 'the period is the five plausible days, not 1970 to the future');
      assert.deepEqual(
        d.buckets.map((b) => b.flows),
        [1, 1, 1, 1, 1],
      );
    } finally {
      await close();
    }

    // The CLI: series leaves out the empty ends of a scope and takes --since/--until.
    const all = await runCli(['series', '--db', db, '--format', 'jsonl']);
    assert.equal(all.out.trim().split('\n').length, 5);
    const host = await runCli(['series', '--db', db, '--scope', 'host:10.0.0.2', '--format', 'jsonl']);
    const rows = host.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { bucket: string; flows: number });
    assert.deepEqual(rows, [{ ...rows[0], bucket: '2023-12-12', flows: 1 }], "one day: the host's only flow");
    const win = await runCli([
      'series',
      '--db',
      db,
      '--since',
      '2023-12-11',
      '--until',
      '2023-12-13',
      '--format',
      'jsonl',
    ]);
    assert.deepEqual(
      win.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { bucket: string }).bucket),
      ['2023-12-11', '2023-12-12'],
    );
    await assert.rejects(
      runCli(['series', '--db', db, '--since', '2023-12-11', '--from', '2023-12-12']),
      /--since\/--from: give one of them/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
