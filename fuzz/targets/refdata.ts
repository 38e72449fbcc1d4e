/**
 * Targets for imported reference data: a MaxMind DB (.mmdb) and an ip-location-db CSV through
 * `geo import`, and the zip reader of list archives. Their errors are plain Errors whose message
 * starts with the file's path (and a place in it); anything else escaping is a breach.
 */
import { join } from 'node:path';
import { GeoImportRefused, importGeoFiles } from '../../src/geo/imported.js';
import { readZip } from '../../src/sanctions/zip.js';
import { scratchDir, scratchFile } from '../scratch.js';
import { check, type FuzzTarget } from '../target.js';

/** Budget: 2 s plus 50 µs a byte (an import builds tables over the whole address space). */
function checkTime(t0: number, bytes: number): void {
  const ms = performance.now() - t0;
  const budget = 2000 + bytes * 0.05;
  check(ms <= budget, `${bytes} bytes took ${Math.round(ms)} ms (budget ${Math.round(budget)} ms)`);
}

const namesFile = (name: string) => (e: unknown) =>
  e instanceof GeoImportRefused || (e instanceof Error && e.message.startsWith(join(scratchDir(), name)));

function geoTarget(name: string, file: string, description: string, tokens: string[]): FuzzTarget {
  return {
    name,
    description,
    invariants: [
      'no exception other than an Error naming the file (or GeoImportRefused with the skipped records)',
      'every skipped record has a place (network or line); a successful import reads back',
      'time under 2 s + 50 µs a byte',
    ],
    tokens,
    async run(input) {
      const t0 = performance.now();
      const path = scratchFile(file, input);
      try {
        const m = importGeoFiles([path], join(scratchDir(), 'fuzz.duckdb'), {
          noDefault: true,
          maxRecords: 200_000,
        });
        check(
          m.sources.length === 1 && m.sources[0].kept > 0,
          'an import that kept nothing reported success',
        );
      } catch (e) {
        if (e instanceof GeoImportRefused)
          for (const r of e.skipped)
            for (const s of r.skips)
              check(/^(network |line )/.test(s.at), `skipped record without a place: ${s.at}`);
        throw e;
      } finally {
        checkTime(t0, input.length);
      }
    },
    expected: namesFile(file),
  };
}

export const refdataTargets: FuzzTarget[] = [
  geoTarget('geo-mmdb', 'fuzz.mmdb', 'a MaxMind DB file (search tree, data section, metadata) → geo import', [
    '\u00ab\u00cd\u00efMaxMind.com',
    '\u0000\u0000\u0000',
    '\u00ff\u00ff\u00ff',
    'iso_code',
    'autonomous_system_number',
  ]),
  geoTarget(
    'geo-csv',
    'fuzz.csv',
    'an ip-location-db CSV (start,end,country | start,end,asn,org) → geo import',
    [',', '"', '\n', '::', '.', '255', '4294967295', 'KP'],
  ),
  {
    name: 'list-zip',
    description: 'a zip archive of list files → readZip (central directory, stored/deflate, CRC and sizes)',
    invariants: [
      'no exception other than an Error naming the archive',
      'entries are inflated to exactly their declared size, under the bound, with base names only',
    ],
    tokens: ['PK\u0003\u0004', 'PK\u0001\u0002', 'PK\u0005\u0006', '../', '\u00ff\u00ff\u00ff\u00ff'],
    run(input) {
      const path = scratchFile('fuzz.zip', input);
      const { entries } = readZip(path, () => true, 1 << 20);
      let total = 0;
      for (const e of entries) {
        check(!e.base.includes('/') && e.base !== '..' && e.base !== '.', `entry base name ${e.base}`);
        total += e.data.length;
      }
      check(total <= 1 << 20, `${total} bytes inflated past the 1 MiB bound`);
      return Promise.resolve();
    },
    expected: (e) => e instanceof Error && e.message.startsWith(join(scratchDir(), 'fuzz.zip')),
  },
];
