import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ScreeningIndex,
  screenAddresses,
  screenWithExposure,
  setDefaultScreeningIndex,
  type ChainExposureProvider,
} from '../../src/sanctions/screen.js';
import { parseSdnCsv } from '../../src/sanctions/sdn-csv.js';
import { runCli } from '../cli-run.js';

const FIX = 'test/fixtures/sanctions';
const cli = async (args: string[]): Promise<string> => (await runCli(args)).out;

test('CLI: sanctions load, versions, diff, screen --file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-cli-'));
  try {
    const db = join(dir, 'db.duckdb');
    const out1 = await cli([
      'sanctions',
      'load',
      '--db',
      db,
      '--published',
      '2022-01',
      `${FIX}/sdn.csv`,
      `${FIX}/add.csv`,
      `${FIX}/alt.csv`,
    ]);
    assert.match(out1, /loaded version 1 of ofac-sdn/);
    assert.match(out1, /127 digital-currency addresses \(4 failed validation\)/);
    const out2 = await cli([
      'sanctions',
      'load',
      '--db',
      db,
      '--published',
      '2024-09',
      `${FIX}/ofac-address-lists-2024-09`,
    ]);
    assert.match(out2, /loaded version 2 of ofac-sdn/);
    const versions = JSON.parse(await cli(['sanctions', 'versions', '--db', db, '--format', 'json'])) as {
      id: number;
      current: string;
    }[];
    assert.deepEqual(
      versions.map((v) => [v.id, v.current]),
      [
        [1, ''],
        [2, 'yes'],
      ],
    );
    const diff = JSON.parse(await cli(['sanctions', 'diff', '1', '2', '--db', db, '--format', 'json'])) as {
      counts: Record<string, number>;
    };
    assert.equal(diff.counts.addressesAdded, 530);
    assert.equal(diff.counts.addressesRemoved, 3);
    const list = join(dir, 'wallets.csv');
    writeFileSync(
      list,
      'host,address\n175.45.178.1,1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ\n175.45.178.2,1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n',
    );
    const res = JSON.parse(await cli(['screen', '--db', db, '--file', list, '--format', 'json'])) as {
      address: string;
      matched: boolean;
      matches: { entity: { name: string } }[];
    }[];
    assert.deepEqual(
      res.map((r) => r.matched),
      [true, false],
    );
    assert.equal(res[0].matches[0].entity.name, 'TIAN, Yinyin');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('screenAddresses (for detected wallets) needs a loaded index; a chain provider adds cluster matches', async () => {
  setDefaultScreeningIndex(null);
  assert.throws(() => screenAddresses(['1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ']), /no sanctions list loaded/);
  const l = parseSdnCsv([`${FIX}/sdn.csv`]);
  const index = new ScreeningIndex();
  index.addVersion(
    { versionId: 7, list: 'ofac-sdn', published: '2022-01', checksum: l.checksum },
    l.entities,
    l.addresses,
  );
  setDefaultScreeningIndex(index);
  const [hit, miss] = screenAddresses([
    '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ',
    '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2',
  ]);
  assert.equal(hit.matches[0].entity?.id, '28263');
  assert.equal(miss.matched, false);
  setDefaultScreeningIndex(null);

  // A provider backed by a table of clusters, as the chain module's index will be.
  const clusters = [['1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2', '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ']];
  const provider: ChainExposureProvider = {
    async exposure(address, isListed) {
      const c = clusters.find((x) => x.includes(address));
      return (c ?? [])
        .filter((a) => a !== address && isListed(a))
        .map((a) => ({ kind: 'cluster' as const, listedAddress: a, hops: 0 }));
    },
  };
  const [r] = await screenWithExposure(index, ['1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2'], provider);
  assert.equal(r.matched, true);
  assert.deepEqual(
    [r.matches[0].kind, r.matches[0].entity?.name, r.matches[0].listedAddress],
    ['cluster', 'TIAN, Yinyin', '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ'],
  );
});
