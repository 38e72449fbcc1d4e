/**
 * Targets for the sanctions list parsers: the classic SDN CSV (sdn.csv), SDN Advanced XML, the
 * per-asset address JSON lists and user address CSVs. Each input is written to a scratch file
 * with the name the parser expects.
 */
import { InputError } from '../../src/flow/diagnostics.js';
import { Diagnostics } from '../../src/flow/diagnostics.js';
import { parseAddressCsv, parseAddressJson } from '../../src/sanctions/address-lists.js';
import type { ParsedList } from '../../src/sanctions/model.js';
import { parseSdnAdvancedXml } from '../../src/sanctions/sdn-advanced.js';
import { parseSdnCsv } from '../../src/sanctions/sdn-csv.js';
import { forEachFrame } from '../frames.js';
import { scratchFile } from '../scratch.js';
import { check, type FuzzTarget } from '../target.js';

/**
 * Parsing is linear: a budget of 2 s plus 20 µs a byte is far above what a linear parser needs
 * here even on a loaded machine (the quadratic validator of issue 10 took 46 s on 160 kB).
 */
function checkTime(t0: number, bytes: number): void {
  const ms = performance.now() - t0;
  const budget = 2000 + bytes * 0.02;
  check(
    ms <= budget,
    `${bytes} bytes took ${Math.round(ms)} ms (budget ${Math.round(budget)} ms): not linear`,
  );
}

/** Every address names an entity the list holds (or none); every problem has a location. */
function checkList(l: ParsedList, what: string): void {
  const ids = new Set(l.entities.map((e) => e.id));
  for (const a of l.addresses)
    check(a.entityId === null || ids.has(a.entityId), `${what}: address ${a.address} names unknown entity`);
  for (const p of l.diagnostics.problems)
    check(Number.isInteger(p.offset) && p.offset >= 0, `${what}: problem without a location: ${p.message}`);
}

const CSV_TOKENS = [
  ',',
  '"',
  '""',
  '\n',
  '\r\n',
  '-0-',
  '-0- ',
  ';',
  '; ',
  'Digital Currency Address - XBT ',
  'a.k.a. ',
];
const ADDRESS_TOKENS = [
  '1Hn9ErTCPRP6j5UDBeuXPGuq5RtRjFJxJQ',
  '0x098B716B8Aaf21512996dC57EB0615e2383E2f96',
  'bc1qsxzp6fdyhqe3fljs6dxjv6lvh8yxu5h8j2zg3q',
  '4',
  'XBT',
  'ETH',
  'XMR',
];

interface ListSpec {
  name: string;
  description: string;
  /** What every problem carries as its location, in the invariants' words. */
  where: string;
  tokens: string[];
  /** Parse the input; returns the list and the bytes parsed (for the time budget). */
  parse(input: Buffer, diagnostics: Diagnostics): Promise<ParsedList> | ParsedList;
  bytes?: (input: Buffer) => number;
}

function listTarget(spec: ListSpec): FuzzTarget {
  return {
    name: spec.name,
    description: spec.description,
    invariants: [
      'no exception other than InputError',
      `every address names an entity the list holds (or none); every problem has a ${spec.where}`,
      'linear time (2 s + 20 µs a byte), resident memory < 1.5 GB',
    ],
    tokens: spec.tokens,
    async run(input) {
      const t0 = performance.now();
      const l = await spec.parse(input, new Diagnostics(10));
      checkTime(t0, spec.bytes?.(input) ?? input.length);
      checkList(l, spec.name);
    },
    expected: (e) => e instanceof InputError,
  };
}

const SDN_SET = ['sdn.csv', 'add.csv', 'alt.csv', 'sdn_comments.csv'];

export const sanctionsTargets: FuzzTarget[] = [
  listTarget({
    name: 'sdn-csv',
    description: 'OFAC classic SDN CSV (sdn.csv, remarks with digital currency addresses) → parseSdnCsv',
    where: 'line',
    tokens: [...CSV_TOKENS, ...ADDRESS_TOKENS],
    parse: (input, diagnostics) => parseSdnCsv([scratchFile('sdn.csv', input)], { diagnostics }),
  }),
  listTarget({
    name: 'sdn-csv-set',
    description:
      'the classic SDN set: sdn.csv with add.csv, alt.csv, sdn_comments.csv (framed) → parseSdnCsv',
    where: 'line',
    tokens: [...CSV_TOKENS, ...ADDRESS_TOKENS],
    // Frames (fuzz/frames.ts) by role: 0 sdn.csv, 1 add.csv, 2 alt.csv, 3 sdn_comments.csv.
    parse: (input, diagnostics) => {
      const parts: Buffer[][] = [[], [], [], []];
      forEachFrame(input, (role, bytes) => parts[role % 4].push(bytes));
      const paths = SDN_SET.map((name, k) => scratchFile(name, Buffer.concat(parts[k])));
      return parseSdnCsv(
        paths.filter((_, k) => k === 0 || parts[k].length > 0),
        { diagnostics },
      );
    },
  }),
  listTarget({
    name: 'sdn-xml',
    description: 'OFAC SDN Advanced XML (streamed with saxes) → parseSdnAdvancedXml',
    where: 'line (bad-xml) or byte offset',
    tokens: [
      '<',
      '>',
      '</',
      '/>',
      '"',
      '&amp;',
      '&#0;',
      '&#xFFFF;',
      '<![CDATA[',
      ']]>',
      '<!--',
      ...ADDRESS_TOKENS,
    ],
    parse: (input, diagnostics) =>
      parseSdnAdvancedXml(scratchFile('sdn_advanced.xml', input), { diagnostics }),
  }),
  listTarget({
    name: 'address-json',
    description: 'OFAC per-asset address lists (sanctioned_addresses_<COIN>.json) → parseAddressJson',
    where: 'line or byte offset',
    tokens: ['[', ']', '"', ',', '\n', 'null', '{}', '1e400', '\\u0000', ...ADDRESS_TOKENS],
    // The same bytes as three assets: address validation differs per coin.
    parse: (input, diagnostics) =>
      parseAddressJson(
        ['XBT', 'ETH', 'XMR'].map((c) => scratchFile(`sanctioned_addresses_${c}.json`, input)),
        { diagnostics },
      ),
    bytes: (input) => 3 * input.length,
  }),
  listTarget({
    name: 'address-csv',
    description: 'a user address list (coin,address,label[,entity]) → parseAddressCsv',
    where: 'line',
    tokens: [...CSV_TOKENS, ...ADDRESS_TOKENS],
    parse: (input, diagnostics) => parseAddressCsv(scratchFile('user-list.csv', input), { diagnostics }),
  }),
];
