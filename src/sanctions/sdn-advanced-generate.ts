/**
 * Writes a synthetic SDN Advanced XML file in the published schema's shape (the parts documented
 * in sdn-advanced.ts plus the bulk a real profile carries: identity documents, birth dates,
 * nationalities, aliases). Used by tests and the benchmark to check constant-memory parsing of a
 * file as large as the real one; addresses are valid BTC P2PKH and ETH addresses from a seeded PRNG.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { base58CheckEncode } from './base58.js';

export interface GenerateOptions {
  /** Stop after writing about this many bytes of DistinctParties. */
  targetBytes: number;
  /** Every n-th party carries digital-currency addresses. */
  addressEvery?: number;
  seed?: number;
  date?: { year: number; month: number; day: number };
}

export interface GeneratedListing {
  entityId: string;
  name: string;
  code: string;
  address: string;
  programs: string[];
}

export interface GenerateResult {
  bytes: number;
  parties: number;
  /** Every address written, with its entity and programs (the parser must give these back). */
  listings: GeneratedListing[];
}

const PROGRAMS = ['CYBER2', 'DPRK3', 'SDGT', 'RUSSIA-EO14024', 'IRAN', 'SDNTK'];
const SUBTYPES: [string, string][] = [
  ['1', 'Vessel'],
  ['2', 'Aircraft'],
  ['3', 'Entity'],
  ['4', 'Individual'],
];

export async function generateSdnAdvancedXml(path: string, opts: GenerateOptions): Promise<GenerateResult> {
  let state = (opts.seed ?? 1) >>> 0 || 1;
  const rnd = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rnd() & 0xff);
  const hex = (n: number) => Buffer.from(bytes(n)).toString('hex');
  const every = opts.addressEvery ?? 25;
  const d = opts.date ?? { year: 2024, month: 9, day: 13 };
  const out = createWriteStream(path);
  let written = 0;
  const write = async (s: string) => {
    written += Buffer.byteLength(s);
    if (!out.write(s)) await once(out, 'drain');
  };
  await write(
    `<?xml version="1.0" encoding="utf-8"?>\n<Sanctions xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML">\n` +
      `  <DateOfIssue><Year>${d.year}</Year><Month>${d.month}</Month><Day>${d.day}</Day></DateOfIssue>\n` +
      `  <ReferenceValueSets>\n    <AliasTypeValues><AliasType ID="1400">A.K.A.</AliasType><AliasType ID="1403">Name</AliasType></AliasTypeValues>\n` +
      `    <FeatureTypeValues>\n      <FeatureType ID="8" FeatureTypeGroupID="1">Birthdate</FeatureType>\n      <FeatureType ID="10" FeatureTypeGroupID="1">Nationality Country</FeatureType>\n` +
      `      <FeatureType ID="344" FeatureTypeGroupID="1">Digital Currency Address - XBT</FeatureType>\n      <FeatureType ID="345" FeatureTypeGroupID="1">Digital Currency Address - ETH</FeatureType>\n    </FeatureTypeValues>\n` +
      `    <PartySubTypeValues>${SUBTYPES.map(([id, v]) => `<PartySubType ID="${id}" PartyTypeID="1">${v}</PartySubType>`).join('')}</PartySubTypeValues>\n` +
      `    <SanctionsTypeValues><SanctionsType ID="1">Program</SanctionsType><SanctionsType ID="2">Block</SanctionsType></SanctionsTypeValues>\n` +
      `  </ReferenceValueSets>\n  <DistinctParties>\n`,
  );
  const listings: GeneratedListing[] = [];
  const programsOf = new Map<string, string[]>();
  let parties = 0;
  let featureId = 100000;
  while (written < opts.targetBytes) {
    parties++;
    const ref = String(10000 + parties);
    const individual = rnd() % 2 === 0;
    const name = [`NAME${hex(3).toUpperCase()}`, `Given${hex(2)}`];
    const programs = [PROGRAMS[rnd() % PROGRAMS.length]];
    if (rnd() % 3 === 0) programs.push(PROGRAMS[rnd() % PROGRAMS.length]);
    const uniq = [...new Set(programs)];
    const aliasXml = (primary: boolean, parts: string[]) =>
      `        <Alias FixedRef="${ref}" AliasTypeID="${primary ? 1403 : 1400}" Primary="${primary}" LowQuality="false">\n          <DocumentedName ID="${rnd() % 1e6}" FixedRef="${ref}" DocNameStatusID="1">\n` +
      parts
        .map(
          (p) =>
            `            <DocumentedNamePart><NamePartValue NamePartGroupID="${rnd() % 1e5}" ScriptID="215" ScriptStatusID="1" Acronym="false">${p}</NamePartValue></DocumentedNamePart>\n`,
        )
        .join('') +
      `          </DocumentedName>\n        </Alias>\n`;
    let features =
      `      <Feature ID="${featureId++}" FeatureTypeID="8">\n        <FeatureVersion ReliabilityID="1" ID="${featureId}">\n          <DatePeriod CalendarTypeID="1" YearFixed="false" MonthFixed="false" DayFixed="false"><Start Approximate="false" YearFixed="false" MonthFixed="false" DayFixed="false"><From><Year>19${50 + (rnd() % 50)}</Year><Month>${1 + (rnd() % 12)}</Month><Day>${1 + (rnd() % 28)}</Day></From></Start></DatePeriod>\n        </FeatureVersion>\n        <IdentityReference IdentityID="${ref}" IdentityFeatureLinkTypeID="1" />\n      </Feature>\n` +
      `      <Feature ID="${featureId++}" FeatureTypeID="10">\n        <FeatureVersion ReliabilityID="1" ID="${featureId}"><VersionLocation LocationID="${rnd() % 5000}" /></FeatureVersion>\n        <IdentityReference IdentityID="${ref}" IdentityFeatureLinkTypeID="1" />\n      </Feature>\n`;
    if (parties % every === 0) {
      const n = 1 + (rnd() % 5);
      for (let k = 0; k < n; k++) {
        const eth = rnd() % 4 === 0;
        const address = eth ? `0x${hex(20)}` : base58CheckEncode(Uint8Array.from([0, ...bytes(20)]));
        const code = eth ? 'ETH' : 'XBT';
        listings.push({ entityId: ref, name: name.join(' '), code, address, programs: uniq });
        features += `      <Feature ID="${featureId++}" FeatureTypeID="${eth ? 345 : 344}">\n        <FeatureVersion ReliabilityID="1" ID="${featureId}">\n          <Comment />\n          <VersionDetail DetailTypeID="1432">${address}</VersionDetail>\n        </FeatureVersion>\n        <IdentityReference IdentityID="${ref}" IdentityFeatureLinkTypeID="1" />\n      </Feature>\n`;
      }
    }
    programsOf.set(ref, uniq);
    const aliases = Array.from({ length: 1 + (rnd() % 4) }, () =>
      aliasXml(false, [`ALIAS${hex(4).toUpperCase()}`]),
    );
    await write(
      `    <DistinctParty FixedRef="${ref}">\n      <Comment />\n      <Profile ID="${ref}" PartySubTypeID="${individual ? 4 : 3}">\n        <Identity ID="${ref}" FixedRef="${ref}" Primary="true" False="false">\n` +
        aliasXml(true, name).replace(/^/gm, '') +
        aliases.join('') +
        `        </Identity>\n` +
        features +
        `      </Profile>\n    </DistinctParty>\n`,
    );
  }
  await write(`  </DistinctParties>\n  <ProfileRelationships />\n  <SanctionsEntries>\n`);
  let entryId = 1;
  for (let p = 1; p <= parties; p++) {
    const ref = String(10000 + p);
    const programs = programsOf.get(ref) ?? [];
    await write(
      `    <SanctionsEntry ID="${entryId++}" ProfileID="${ref}" ListID="1550">\n      <EntryEvent ID="${entryId}" EntryEventTypeID="1" LegalBasisID="${rnd() % 100}"><Date CalendarTypeID="1"><Year>2020</Year><Month>3</Month><Day>2</Day></Date><Comment /></EntryEvent>\n` +
        `      <SanctionsMeasure ID="${entryId}" SanctionsTypeID="2"><Comment /></SanctionsMeasure>\n` +
        programs
          .map(
            (pr) =>
              `      <SanctionsMeasure ID="${entryId}" SanctionsTypeID="1"><Comment>${pr}</Comment><DatePeriod CalendarTypeID="1" YearFixed="false" MonthFixed="false" DayFixed="false" /></SanctionsMeasure>\n`,
          )
          .join('') +
        `    </SanctionsEntry>\n`,
    );
  }
  await write(`  </SanctionsEntries>\n</Sanctions>\n`);
  out.end();
  await once(out, 'finish');
  return { bytes: written, parties, listings };
}
