import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { generateSdnAdvancedXml } from '../../src/sanctions/sdn-advanced-generate.js';
import { parseSdnAdvancedXml } from '../../src/sanctions/sdn-advanced.js';
import { loadListFiles } from '../../src/sanctions/load.js';
import { InputError } from '../../src/flow/diagnostics.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test('SDN Advanced XML: addresses with entity, type, programs and publication date', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sdnxml-'));
  try {
    const p = join(dir, 'sdn_advanced.xml');
    const gen = await generateSdnAdvancedXml(p, {
      targetBytes: 300_000,
      seed: 7,
      addressEvery: 5,
      date: { year: 2024, month: 9, day: 13 },
    });
    assert.ok(gen.listings.length > 20);
    const l = await loadListFiles([p]);
    assert.equal(l.format, 'sdn-advanced-xml');
    assert.equal(l.published, '2024-09-13');
    assert.equal(l.addresses.length, gen.listings.length);
    const ents = new Map(l.entities.map((e) => [e.id, e]));
    for (let i = 0; i < gen.listings.length; i++) {
      const want = gen.listings[i];
      const got = l.addresses[i];
      assert.equal(got.address, want.address);
      assert.equal(got.listCode, want.code);
      assert.equal(got.coin, want.code === 'XBT' ? 'BTC' : want.code);
      assert.equal(got.valid, true, got.problem);
      const e = ents.get(got.entityId!)!;
      assert.equal(e.id, want.entityId);
      assert.equal(e.name, want.name);
      assert.deepEqual(e.programs, want.programs);
      assert.ok(['individual', 'entity'].includes(e.type));
    }
    // Only profiles with a digital-currency address are kept.
    assert.equal(l.entities.length, new Set(gen.listings.map((x) => x.entityId)).size);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SDN Advanced XML: a hand-written file in the real schema (namespace, Unknown subtype, invalid address)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sdnxml-'));
  try {
    const p = join(dir, 'sdn_advanced.xml');
    writeFileSync(
      p,
      `<?xml version="1.0" encoding="utf-8"?>
<Sanctions xmlns="http://www.un.org/sanctions/1.0">
  <DateOfIssue><Year>2022</Year><Month>1</Month><Day>14</Day></DateOfIssue>
  <ReferenceValueSets>
    <FeatureTypeValues><FeatureType ID="344" FeatureTypeGroupID="1">Digital Currency Address - XBT</FeatureType><FeatureType ID="566" FeatureTypeGroupID="1">Digital Currency Address - XMR</FeatureType></FeatureTypeValues>
    <PartySubTypeValues><PartySubType ID="4" PartyTypeID="1">Individual</PartySubType><PartySubType ID="3" PartyTypeID="2">Unknown</PartySubType></PartySubTypeValues>
    <SanctionsTypeValues><SanctionsType ID="1">Program</SanctionsType></SanctionsTypeValues>
  </ReferenceValueSets>
  <DistinctParties>
    <DistinctParty FixedRef="28263"><Comment/><Profile ID="28263" PartySubTypeID="4">
      <Identity ID="1" FixedRef="28263" Primary="true" False="false">
        <Alias FixedRef="28263" AliasTypeID="1403" Primary="true" LowQuality="false"><DocumentedName ID="1" FixedRef="28263" DocNameStatusID="1">
          <DocumentedNamePart><NamePartValue NamePartGroupID="1" ScriptID="215" ScriptStatusID="1" Acronym="false">TIAN</NamePartValue></DocumentedNamePart>
          <DocumentedNamePart><NamePartValue NamePartGroupID="2" ScriptID="215" ScriptStatusID="1" Acronym="false">Yinyin</NamePartValue></DocumentedNamePart>
        </DocumentedName></Alias>
      </Identity>
      <Feature ID="9" FeatureTypeID="344"><FeatureVersion ReliabilityID="1" ID="9"><Comment/><VersionDetail DetailTypeID="1432">1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ</VersionDetail></FeatureVersion><IdentityReference IdentityID="1" IdentityFeatureLinkTypeID="1"/></Feature>
    </Profile></DistinctParty>
    <DistinctParty FixedRef="29585"><Profile ID="29585" PartySubTypeID="3">
      <Identity ID="2" FixedRef="29585" Primary="true" False="false"><Alias FixedRef="29585" AliasTypeID="1403" Primary="true" LowQuality="false"><DocumentedName ID="2" FixedRef="29585" DocNameStatusID="1"><DocumentedNamePart><NamePartValue NamePartGroupID="3" ScriptID="215" ScriptStatusID="1" Acronym="false">KARASAVIDI</NamePartValue></DocumentedNamePart></DocumentedName></Alias></Identity>
      <Feature ID="10" FeatureTypeID="566"><FeatureVersion ReliabilityID="1" ID="10"><VersionDetail DetailTypeID="1432">5be5543ff73456ab9f2d207887e2af87322c651ea1a873c5b25b7ffae456c320</VersionDetail></FeatureVersion></Feature>
    </Profile></DistinctParty>
  </DistinctParties>
  <SanctionsEntries>
    <SanctionsEntry ID="1" ProfileID="28263" ListID="1550"><SanctionsMeasure ID="1" SanctionsTypeID="1"><Comment>DPRK3</Comment></SanctionsMeasure><SanctionsMeasure ID="2" SanctionsTypeID="1"><Comment>CYBER2</Comment></SanctionsMeasure></SanctionsEntry>
    <SanctionsEntry ID="2" ProfileID="29585" ListID="1550"><SanctionsMeasure ID="3" SanctionsTypeID="1"><Comment>CYBER2</Comment></SanctionsMeasure></SanctionsEntry>
  </SanctionsEntries>
</Sanctions>
`,
    );
    const l = await parseSdnAdvancedXml(p);
    assert.equal(l.published, '2022-01-14');
    assert.deepEqual(l.entities, [
      {
        id: '28263',
        name: 'TIAN Yinyin',
        type: 'individual',
        programs: ['DPRK3', 'CYBER2'],
        aliases: [],
        addresses: [],
      },
      { id: '29585', name: 'KARASAVIDI', type: 'entity', programs: ['CYBER2'], aliases: [], addresses: [] },
    ]);
    assert.deepEqual(
      l.addresses.map((a) => [a.entityId, a.coin, a.valid]),
      [
        ['28263', 'BTC', true],
        ['29585', 'XMR', false],
      ],
    );
    const prob = l.diagnostics.problems.find((x) => x.kind === 'invalid-address')!;
    assert.match(prob.message, /KARASAVIDI/);
    assert.equal(prob.offset, 21);

    // Not well-formed: an error with the line, not a crash.
    writeFileSync(p, '<Sanctions>\n<DistinctParties>\n</Sanctions>\n');
    await assert.rejects(
      parseSdnAdvancedXml(p),
      (e: unknown) => e instanceof InputError && e.problem.offset === 3,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SDN Advanced XML parses a multi-MB file in constant memory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-sdnxml-'));
  try {
    const p = join(dir, 'sdn_advanced.xml');
    const gen = await generateSdnAdvancedXml(p, { targetBytes: 24 * 1024 * 1024, seed: 3, addressEvery: 40 });
    const size = statSync(p).size;
    gen.listings.length = 0;
    gc();
    const base = process.memoryUsage().heapUsed;
    const retained: number[] = [];
    let chunks = 0;
    const l = await parseSdnAdvancedXml(p, {
      onChunk: () => {
        if (++chunks % 32 === 0) {
          gc();
          retained.push(process.memoryUsage().heapUsed - base);
        }
      },
    });
    assert.ok(l.addresses.length > 100);
    const quarter = retained[Math.floor(retained.length / 4)];
    const last = retained[retained.length - 1];
    const max = Math.max(...retained);
    const MB = 1024 * 1024;
    console.log(
      `file ${(size / MB).toFixed(1)} MB; retained heap after GC: at 1/4 ${(quarter / MB).toFixed(2)} MB, at end ${(last / MB).toFixed(2)} MB, max ${(max / MB).toFixed(2)} MB`,
    );
    // Bound: what is kept is a few hundred profiles, not the file (24 MB of XML is ~48 MB as a JS string).
    assert.ok(max < 4 * MB, `retained ${max} bytes`);
    // And it does not grow with the bytes read (kept profiles only: a few kB).
    assert.ok(last - quarter < 1 * MB, `grew ${last - quarter} bytes between 1/4 and the end`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
