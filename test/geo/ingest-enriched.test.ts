import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnricher } from '../../src/cli/enricher.js';
import { ingestFile } from '../../src/flow/ingest.js';
import '../../src/flow/all-formats.js';
import { openFlowStore } from '../../src/store/open.js';
import { ZEEK_CONN_FIELDS, ZEEK_CONN_TYPES } from '../../src/netflow/zeek.js';

test('ingest: formats found from the bytes (misleading names), both ends enriched and stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'geo-ingest-'));
  const store = await openFlowStore(':memory:');
  try {
    // A Zeek TSV log named like a capture, an nfdump CSV named like a Zeek log.
    const zeek = join(dir, 'capture.pcap');
    writeFileSync(
      zeek,
      [
        '#separator \\x09',
        '#unset_field\t-',
        '#path\tconn',
        `#fields\t${ZEEK_CONN_FIELDS.join('\t')}`,
        `#types\t${ZEEK_CONN_TYPES.join('\t')}`,
        '1494979200.123456\tC1\t175.45.178.10\t51234\t188.165.213.169\t8333\ttcp\t-\t12.500000\t1000\t2000\tSF\t-\t-\t0\tShADadFf\t20\t2040\t18\t2960\t-',
        '1494979260.000000\tC2\t77.94.35.20\t40000\t2001:4860:4860::8888\t53\tudp\tdns\t0.010000\t30\t60\tSF\t-\t-\t0\tDd\t1\t58\t1\t88\t-',
        '1494979261.000000\tC3\t2001:db8::1\t40000\t2001:4860:4860::8888\t53\tudp\tdns\t0.010000\t30\t60\tSF\t-\t-\t0\tDd\t1\t78\t1\t108\t-',
        '#close\t2017-05-17-00-10-00',
        '',
      ].join('\n'),
    );
    const csv = join(dir, 'conn.log');
    copyFileSync('test/fixtures/nfdump/bitcoin-ipfix-bidir.csv', csv);
    const enricher = await loadEnricher({ geo: true });
    const a = await ingestFile(zeek, { store, enricher });
    const b = await ingestFile(csv, { store, enricher });
    assert.equal(a.kind, 'zeek-tsv');
    assert.equal(b.kind, 'nfdump-csv');
    // The middle Zeek row mixes IPv4 and IPv6 ends: reported and skipped, the others kept.
    assert.equal(a.flows, 2, a.diagnostics.summary());
    assert.equal(a.diagnostics.problems[0].offset, 7);
    assert.match(a.diagnostics.problems[0].message, /address families differ/);
    assert.equal(b.flows, 6);
    const rows = await store.flows({ where: "src = '175.45.178.10' or src = '2001:db8::1'", limit: 10 });
    const kp = rows.find((r) => r.src === '175.45.178.10')!;
    assert.deepEqual(
      [
        kp.src_country,
        kp.src_asn,
        kp.src_watch,
        kp.dst_country,
        kp.dst_asn,
        kp.dst_watch,
        kp.packets,
        kp.rev_bytes,
      ],
      ['KP', 131279, 'kp', 'FR', 16276, '', 20, 2960],
    );
    const v6 = rows.find((r) => r.src === '2001:db8::1')!;
    assert.deepEqual([v6.src_country, v6.src_asn, v6.dst_country, v6.dst_asn], ['', 0, 'US', 15169]);
    const ovh = await store.flows({ where: "src = '188.165.213.169'", limit: 1 });
    assert.deepEqual([ovh[0].src_country, ovh[0].src_asn, ovh[0].dst_country], ['FR', 16276, '']);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
