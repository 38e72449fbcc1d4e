/**
 * OFAC SDN Advanced XML (sdn_advanced.xml, ~120 MB), streamed with saxes in constant memory.
 *
 * The parts of the published schema used here (namespace ignored; local names matched):
 *   Sanctions
 *     DateOfIssue > Year, Month, Day                       → publication date
 *     ReferenceValueSets
 *       FeatureTypeValues > FeatureType[ID] "Digital Currency Address - XBT"
 *       PartySubTypeValues > PartySubType[ID] "Individual" | "Entity" | "Vessel" | "Aircraft" | "Unknown"
 *       SanctionsTypeValues > SanctionsType[ID] "Program" | "Block" | ...
 *     DistinctParties > DistinctParty[FixedRef]             (FixedRef = the classic CSV's ent_num)
 *       Profile[ID, PartySubTypeID]
 *         Identity > Alias[Primary, AliasTypeID] > DocumentedName > DocumentedNamePart > NamePartValue
 *         Feature[FeatureTypeID] > FeatureVersion > VersionDetail   → the address text
 *     SanctionsEntries > SanctionsEntry[ProfileID]
 *       SanctionsMeasure[SanctionsTypeID] > Comment           → program code (CYBER2, DPRK3, ...)
 *
 * Memory is bounded by what is kept (profiles that carry a digital-currency address, a few
 * hundred in the real list), not by the file: every other profile is dropped at its end tag.
 * SanctionsEntries come after DistinctParties, so programs are attached to kept profiles only.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { SaxesParser } from 'saxes';
import { Diagnostics, InputError } from '../flow/diagnostics.js';
import { listAddress } from './listed.js';
import type { ListedAddress, ParsedList, SanctionedEntity, SkippedRow } from './model.js';
import { rowSkipper } from './skipped.js';

const DCA_PREFIX = 'Digital Currency Address - ';

interface ProfileState {
  fixedRef: string;
  subTypeId: string;
  primaryName: string[];
  aliases: string[];
  aliasParts: string[] | null;
  aliasPrimary: boolean;
  addresses: { code: string; address: string; line: number }[];
  featureCode: string | null;
}

export interface SdnAdvancedOptions {
  list?: string;
  diagnostics?: Diagnostics;
  /** Read chunk size (bytes). */
  chunkSize?: number;
  /** Called after each chunk is parsed (progress; the tests sample the heap here). */
  onChunk?: (bytesRead: number) => void;
}

/**
 * A copy that does not point into the parser's chunk: V8 makes substrings of long strings as
 * slices that keep the whole 64 KB chunk alive, so every value kept past its chunk is copied.
 */
function own(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

function local(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

export async function parseSdnAdvancedXml(path: string, opts: SdnAdvancedOptions = {}): Promise<ParsedList> {
  const diag = opts.diagnostics ?? new Diagnostics();
  const parser = new SaxesParser({ xmlns: false, position: true });
  const hash = createHash('sha256');
  const skipped: SkippedRow[] = [];
  const skip = rowSkipper(diag, skipped);

  const stack: string[] = [];
  let text = '';
  let capturing = false;
  const date: { Year?: string; Month?: string; Day?: string } = {};
  const dcFeatureTypes = new Map<string, string>();
  const subTypes = new Map<string, string>();
  const sanctionsTypes = new Map<string, string>();
  let refId = '';
  let profile: ProfileState | null = null;
  const kept = new Map<string, SanctionedEntity & { addressList: ProfileState['addresses'] }>();
  let entryProfile: string | null = null;
  let measureType = '';
  let profiles = 0;
  let distinctPartyRef: string | null = null;

  const parent = (n = 1) => stack[stack.length - 1 - n];

  parser.on('opentag', (tag) => {
    const name = local(tag.name);
    const a = tag.attributes as Record<string, string>;
    stack.push(name);
    capturing = false;
    switch (name) {
      case 'Year':
      case 'Month':
      case 'Day':
        capturing = parent() === 'DateOfIssue';
        break;
      case 'FeatureType':
      case 'PartySubType':
      case 'SanctionsType':
        refId = a.ID ?? '';
        capturing = true;
        break;
      case 'Profile':
        profiles++;
        profile = {
          fixedRef: own(stack.includes('DistinctParty') ? (distinctPartyRef ?? a.ID ?? '') : (a.ID ?? '')),
          subTypeId: own(a.PartySubTypeID ?? ''),
          primaryName: [],
          aliases: [],
          aliasParts: null,
          aliasPrimary: false,
          addresses: [],
          featureCode: null,
        };
        break;
      case 'DistinctParty':
        distinctPartyRef = a.FixedRef == null ? null : own(a.FixedRef);
        break;
      case 'Alias':
        if (profile) {
          profile.aliasParts = [];
          profile.aliasPrimary = a.Primary === 'true';
        }
        break;
      case 'NamePartValue':
        capturing = profile?.aliasParts != null;
        break;
      case 'Feature':
        if (profile) profile.featureCode = dcFeatureTypes.get(a.FeatureTypeID ?? '') ?? null;
        break;
      case 'VersionDetail':
        capturing = profile?.featureCode != null;
        break;
      case 'SanctionsEntry':
        entryProfile = a.ProfileID == null ? null : own(a.ProfileID);
        break;
      case 'SanctionsMeasure':
        measureType = a.SanctionsTypeID ?? '';
        break;
      case 'Comment':
        capturing = parent() === 'SanctionsMeasure' && entryProfile !== null && kept.has(entryProfile);
        break;
    }
    text = '';
  });

  parser.on('text', (t) => {
    if (capturing) text += t;
  });
  parser.on('cdata', (t) => {
    if (capturing) text += t;
  });

  parser.on('closetag', (tag) => {
    const name = local(tag.name);
    const value = text.trim();
    const wasCapturing = capturing;
    capturing = false;
    text = '';
    stack.pop();
    switch (name) {
      case 'Year':
      case 'Month':
      case 'Day':
        if (wasCapturing) date[name] = own(value);
        break;
      case 'FeatureType':
        if (value.startsWith(DCA_PREFIX))
          dcFeatureTypes.set(refId, value.slice(DCA_PREFIX.length).trim().toUpperCase());
        break;
      case 'PartySubType':
        subTypes.set(own(refId), own(value));
        break;
      case 'SanctionsType':
        sanctionsTypes.set(own(refId), own(value));
        break;
      case 'NamePartValue':
        if (wasCapturing && profile?.aliasParts && value) profile.aliasParts.push(own(value));
        break;
      case 'Alias':
        if (profile?.aliasParts) {
          const n = profile.aliasParts.join(' ');
          if (profile.aliasPrimary && profile.primaryName.length === 0)
            profile.primaryName = profile.aliasParts;
          else if (n && profile.aliases.length < 50) profile.aliases.push(n);
          profile.aliasParts = null;
        }
        break;
      case 'VersionDetail':
        if (wasCapturing && profile?.featureCode) {
          if (value)
            profile.addresses.push({ code: profile.featureCode, address: own(value), line: parser.line });
          else
            skip(
              path,
              parser.line,
              'empty-address',
              `profile ${profile.fixedRef}: a Digital Currency Address - ${profile.featureCode} feature with no address text`,
            );
        }
        break;
      case 'Feature':
        if (profile) profile.featureCode = null;
        break;
      case 'Profile':
        if (profile && profile.addresses.length > 0) {
          const sub = subTypes.get(profile.subTypeId) ?? 'Unknown';
          kept.set(profile.fixedRef, {
            id: profile.fixedRef,
            name: profile.primaryName.join(' '),
            type: sub.toLowerCase() === 'unknown' ? 'entity' : sub.toLowerCase(),
            programs: [],
            aliases: profile.aliases,
            addresses: [],
            addressList: profile.addresses,
          });
        }
        profile = null;
        break;
      case 'Comment':
        if (wasCapturing && entryProfile && value) {
          const programType = [...sanctionsTypes].find(([, v]) => v === 'Program')?.[0];
          if (programType === undefined || measureType === programType) {
            const e = kept.get(entryProfile)!;
            if (!e.programs.includes(value)) e.programs.push(own(value));
          }
        }
        break;
      case 'SanctionsEntry':
        entryProfile = null;
        break;
    }
  });

  const chunkSize = opts.chunkSize ?? 1 << 16;
  const decoder = new StringDecoder('utf8');
  let offset = 0;
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: chunkSize })) {
      const buf = chunk as Buffer;
      hash.update(buf);
      parser.write(decoder.write(buf));
      offset += buf.length;
      opts.onChunk?.(offset);
    }
    parser.write(decoder.end());
    parser.close();
  } catch (e) {
    throw new InputError({
      source: path,
      offset: parser.line,
      unit: 'line',
      kind: 'bad-xml',
      message: `${(e as Error).message} (near byte ${offset})`,
    });
  }
  diag.add('profiles', profiles);
  diag.add('bytes', offset);
  if (dcFeatureTypes.size === 0) {
    // Without them no address can be read: the list would load with none, which screens as clean.
    skip(
      path,
      1,
      'no-feature-types',
      'expected "Digital Currency Address - ..." feature types in ReferenceValueSets, found none',
    );
  }

  const entities: SanctionedEntity[] = [];
  const addresses: ListedAddress[] = [];
  for (const { addressList, ...e } of kept.values()) {
    entities.push(e);
    for (const { code, address, line } of addressList) {
      addresses.push(
        listAddress(diag, code, address, e.id, { source: path, line, who: `${e.id} ${e.name}` }),
      );
    }
  }
  diag.add('entities', entities.length);
  const published =
    date.Year && date.Month && date.Day
      ? `${date.Year.padStart(4, '0')}-${date.Month.padStart(2, '0')}-${date.Day.padStart(2, '0')}`
      : null;
  return {
    list: opts.list ?? 'ofac-sdn',
    format: 'sdn-advanced-xml',
    files: [path],
    published,
    checksum: hash.digest('hex'),
    entities,
    addresses,
    skipped,
    diagnostics: diag,
  };
}
