import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadListFiles } from '../../src/sanctions/load.js';
import { remarksAddresses, splitPrograms } from '../../src/sanctions/sdn-csv.js';
import { buildScreeningIndex } from '../../src/sanctions/index-loader.js';
import { diffLists } from '../../src/sanctions/diff.js';
import { openSanctionsStore } from '../../src/store/sanctions.js';

const FIX = 'test/fixtures/sanctions';
const CSV = [`${FIX}/sdn.csv`, `${FIX}/add.csv`, `${FIX}/alt.csv`];
const JSON_DIR = `${FIX}/ofac-address-lists-2024-09`;

test('remarks parsing and program splitting', () => {
  assert.deepEqual(
    remarksAddresses(
      'Gender Male; Digital Currency Address - XBT 1AbC; alt. Digital Currency Address - ETH 0xdef.',
    ),
    [
      { code: 'XBT', address: '1AbC' },
      { code: 'ETH', address: '0xdef' },
    ],
  );
  assert.deepEqual(splitPrograms('DPRK3] [CYBER2'), ['DPRK3', 'CYBER2']);
  assert.deepEqual(splitPrograms('-0- '), []);
});

test('January 2022 SDN CSV: 127 digital-currency addresses with entity, type and programs', async () => {
  const l = await loadListFiles(CSV, { published: '2022-01' });
  assert.equal(l.format, 'sdn-csv');
  assert.equal(l.entities.length, 9043);
  assert.equal(l.addresses.length, 127);
  const perCoin: Record<string, number> = {};
  for (const a of l.addresses) perCoin[a.coin] = (perCoin[a.coin] ?? 0) + 1;
  assert.deepEqual(perCoin, {
    BTC: 102,
    BCH: 3,
    BTG: 1,
    DASH: 3,
    ETC: 1,
    ETH: 6,
    LTC: 4,
    USDT: 1,
    XMR: 3,
    XVG: 1,
    ZEC: 2,
  });
  // Every address carries its entity; the entity has type and programs.
  const ents = new Map(l.entities.map((e) => [e.id, e]));
  for (const a of l.addresses) {
    const e = ents.get(a.entityId!);
    assert.ok(e, `${a.address} has entity ${a.entityId}`);
    assert.ok(e.programs.length > 0);
    assert.ok(['individual', 'entity'].includes(e.type));
  }
  // The two 2020 designations of Lazarus Group launderers (DPRK3 + CYBER2).
  const tian = ents.get('28263')!;
  const li = ents.get('28264')!;
  assert.equal(tian.name, 'TIAN, Yinyin');
  assert.equal(li.name, 'LI, Jiadong');
  assert.deepEqual(tian.programs, ['DPRK3', 'CYBER2']);
  assert.equal(tian.type, 'individual');
  const btcOf = (id: string) => l.addresses.filter((a) => a.entityId === id && a.coin === 'BTC');
  // The classic CSV cuts remarks at ~1,000 characters (the rest would be in sdn_comments.csv, not in
  // this data set): these two entries hold 8 + 12 = 20 of their Bitcoin addresses here, not 40+.
  assert.equal(btcOf('28263').length, 8);
  assert.equal(btcOf('28264').length, 12);
  assert.ok([...btcOf('28263'), ...btcOf('28264')].every((a) => a.valid));
  // Invalid addresses are named with their entity: one hex string listed as XMR, and three BTC
  // addresses cut off by the remarks-length limit.
  const invalid = l.addresses.filter((a) => !a.valid).map((a) => `${a.entityId} ${a.coin} ${a.address}`);
  assert.deepEqual(invalid.sort(), [
    '29585 XMR 5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320',
    '30518 BTC 1Gq',
    '33151 BTC 1B64QRxf',
    '33854 BTC 3',
  ]);
  assert.equal(l.diagnostics.get('problem.invalid-address'), 4);
  assert.ok(l.diagnostics.problems.some((p) => p.message.includes('KARASAVIDI') && p.offset > 1));
  // add.csv names one ent_num that sdn.csv lacks: reported with its line, not fatal.
  assert.equal(l.diagnostics.get('problem.unknown-entity'), 1);
});

test('store versions, screen all 127 addresses, load September 2024 as a second version, diff', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sanctions-'));
  try {
    const db = join(dir, 'db.duckdb');
    const store = await openSanctionsStore(db);
    const jan = await loadListFiles(CSV, { published: '2022-01' });
    const v1 = await store.saveVersion(jan);
    assert.equal(v1.existed, false);
    assert.equal(v1.version.addresses, 127);
    assert.equal(v1.version.invalidAddresses, 4);
    // The same bytes again: the existing version, not a new one.
    const again = await store.saveVersion(await loadListFiles(CSV, { published: '2022-01' }));
    assert.deepEqual([again.existed, again.version.id], [true, v1.version.id]);

    let index = await buildScreeningIndex(store);
    assert.equal(index.size, 127);
    for (const a of jan.addresses) {
      const r = index.screen(a.address);
      assert.ok(r.matched, a.address);
      assert.ok(
        r.matches.some(
          (m) => m.entity?.id === a.entityId && m.kind === 'exact' && m.versionId === v1.version.id,
        ),
        a.address,
      );
      // Case-insensitive encodings match in any case.
      if (a.coin === 'ETH') assert.ok(index.screen(a.address.toUpperCase().replace('0X', '0x')).matched);
    }
    const tian = index.screen('1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ');
    assert.deepEqual(tian.matches[0].entity, {
      id: '28263',
      name: 'TIAN, Yinyin',
      type: 'individual',
      programs: ['DPRK3', 'CYBER2'],
    });
    assert.equal(index.screen('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2').matched, false);

    const sep = await loadListFiles([JSON_DIR], { published: '2024-09' });
    assert.equal(sep.format, 'address-json');
    const perCode: Record<string, number> = {};
    for (const a of sep.addresses) perCode[a.listCode] = (perCode[a.listCode] ?? 0) + 1;
    assert.equal(perCode.XBT, 435);
    // Named failures in the September 2024 lists: a Tron address filed under XBT, and the same hex string under XMR.
    assert.deepEqual(
      sep.addresses
        .filter((a) => !a.valid)
        .map((a) => `${a.listCode} ${a.address}`)
        .sort(),
      [
        'XBT TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq',
        'XMR 5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320',
      ],
    );
    const v2 = await store.saveVersion(sep);
    assert.equal(v2.version.list, 'ofac-sdn');
    assert.ok(v2.version.id > v1.version.id);
    const versions = await store.versions();
    assert.equal(versions.length, 2);
    const current = await store.currentVersions();
    assert.deepEqual(
      current.map((v) => v.id),
      [v2.version.id],
    );

    const d = diffLists(
      { entities: await store.entities(v1.version.id), addresses: await store.addresses(v1.version.id) },
      { entities: await store.entities(v2.version.id), addresses: await store.addresses(v2.version.id) },
    );
    assert.equal(d.entitiesCompared, false);
    const key = (c: string, a: string) => `${c} ${a}`;
    const janKeys = new Set(jan.addresses.map((a) => key(a.coin, a.key)));
    const sepKeys = new Set(sep.addresses.map((a) => key(a.coin, a.key)));
    const added = [...sepKeys].filter((k) => !janKeys.has(k));
    const removed = [...janKeys].filter((k) => !sepKeys.has(k));
    assert.equal(d.counts.addressesAdded, added.length);
    assert.equal(d.counts.addressesRemoved, removed.length);
    assert.ok(added.length > 300, `added ${added.length}`);
    // The truncated fragments of 2022 are gone in 2024; a 2024 ETH address is reported as added.
    assert.ok(d.addresses.some((r) => r.change === 'removed' && r.address === '1Gq'));
    assert.ok(d.addresses.some((r) => r.change === 'added' && r.coin === 'ETH'));

    // Screening now uses the newest version: a 2024 address matches with the 2024 version.
    index = await buildScreeningIndex(store);
    // Folded lookups: upper-case bech32, a cashaddr with its prefix, and the legacy spelling of a listed cashaddr.
    assert.ok(index.screen('BC1Q05AKTDDF9CE4P7HH3STGSF253M4VWEU7NKHTMW').matched);
    assert.ok(index.screen('bitcoincash:qpusmp64rajses77x95g9ah825mtyyv74smwwkxhx3').matched);
    const legacy = sep.addresses.find((a) => a.address === 'qpusmp64rajses77x95g9ah825mtyyv74smwwkxhx3')!
      .aliases![0];
    assert.match(legacy, /^1/);
    assert.equal(index.screen(legacy).matches[0].listedAddress, 'qpusmp64rajses77x95g9ah825mtyyv74smwwkxhx3');
    const r = index.screen('bc1q05aktddf9ce4p7hh3stgsf253m4vweu7nkhtmw');
    assert.equal(r.matches[0].versionId, v2.version.id);
    assert.equal(r.matches[0].entity, null);
    // An address also listed in January 2022 keeps its entity, borrowed from that version and marked so.
    const t = index.screen('1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ').matches[0];
    assert.deepEqual(
      [t.versionId, t.entity?.name, t.entityFromVersion],
      [v2.version.id, 'TIAN, Yinyin', v1.version.id],
    );
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('user CSV list: coin,address,label[,entity]; bad rows reported with their line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sanctions-'));
  try {
    const p = join(dir, 'watch.csv');
    writeFileSync(
      p,
      'coin,address,label,entity\nBTC,1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2,pool payout,Example Pool\nETH,0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD,bad checksum\njust-one-field\nXMR,notmonero,x\n',
    );
    const l = await loadListFiles([p]);
    assert.equal(l.format, 'address-csv');
    assert.equal(l.list, 'watch');
    assert.equal(l.addresses.length, 3);
    assert.deepEqual(
      l.addresses.map((a) => a.valid),
      [true, false, false],
    );
    assert.equal(l.entities.find((e) => e.id === 'Example Pool')?.name, 'Example Pool');
    const bad = l.diagnostics.problems.find((x) => x.kind === 'bad-row')!;
    assert.equal(bad.offset, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
