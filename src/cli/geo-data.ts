// `coinradar geo import|info|reset`: the geo data a store's enrichment uses (imported files or the
// packaged default).
import type { Command } from 'commander';
import { parseSize } from '../flow/decompress.js';
import {
  DEFAULT_GEO_MAX_BYTES,
  GeoImportRefused,
  importGeoFiles,
  importedGeoPaths,
  readGeoManifest,
  resetImportedGeo,
  type GeoManifest,
} from '../geo/imported.js';
import { locateGeoData } from '../geo/ip-location-db.js';
import { parseFormat, render, type OutputFormat } from './output.js';

function sourceRows(m: GeoManifest, format: OutputFormat): Record<string, unknown>[] {
  return m.sources.map((s) => ({
    source: s.file,
    format: s.format,
    type: s.databaseType,
    gives: s.gives.join(', '),
    build_date: format === 'table' ? s.buildDate.slice(0, 10) : s.buildDate,
    version: s.version,
    records: s.records,
    skipped: s.skipped,
    sha256: format === 'table' ? s.sha256.slice(0, 16) : s.sha256,
  }));
}

function packagedDefault(): string {
  const p = locateGeoData();
  return `@ip-location-db/geolite2-country ${p.countryVersion}, @ip-location-db/asn ${p.asnVersion}`;
}

/** The store named by `geo --db` (the subcommands share the parent's option: `geo info --db X`). */
const dbOf = (geo: Command): string => (geo.opts() as { db: string }).db;

export function registerGeoData(geo: Command): void {
  geo
    .command('import')
    .configureHelp({ showGlobalOptions: true })
    .description(
      'import MaxMind/DB-IP .mmdb files (country, ASN, city) or ip-location-db CSVs (start,end,country | start,end,asn,org; IPv4/IPv6, text or -num): the store enriches with them from then on',
    )
    .argument('<file...>')
    .option(
      '--max-bytes <size>',
      'refuse a file larger than this (e.g. 512M)',
      `${DEFAULT_GEO_MAX_BYTES / 2 ** 20}M`,
    )
    .option(
      '--allow-partial',
      'import files some records of which cannot be read (each is printed); refused without it',
    )
    .option(
      '--no-default',
      'leave country/ASN of a family no file gives unknown instead of using the packaged data',
    )
    .option(
      '--data-version <v>',
      'version to record for CSV sources (they carry none), e.g. the release date',
    )
    .action(
      (
        files: string[],
        o: { maxBytes: string; allowPartial?: boolean; default: boolean; dataVersion?: string },
      ) => {
        const db = dbOf(geo);
        const maxBytes = parseSize(o.maxBytes);
        if (!(maxBytes > 0)) throw new Error(`--max-bytes: '${o.maxBytes}' is not a size (e.g. 512M)`);
        const t0 = performance.now();
        let m: GeoManifest;
        try {
          m = importGeoFiles(files, db, {
            maxBytes,
            allowPartial: o.allowPartial === true,
            noDefault: !o.default,
            dataVersion: o.dataVersion,
          });
        } catch (e) {
          if (e instanceof GeoImportRefused)
            for (const r of e.skipped) {
              for (const s of r.skips.slice(0, 20))
                process.stderr.write(`${r.file}: ${s.at}: ${s.message}\n`);
              if (r.skips.length > 20) process.stderr.write(`${r.file}: … ${r.skips.length - 20} more\n`);
            }
          throw e;
        }
        const skipped = m.sources.reduce((n, s) => n + s.skipped, 0);
        process.stdout.write(
          `imported ${m.sources.length} file(s) for ${db} (${importedGeoPaths(db).bin}); its enrichment uses them from now on\n` +
            render(sourceRows(m, 'table'), 'table') +
            '\n' +
            (m.defaults.length ? `from the packaged data: ${m.defaults.join('; ')}\n` : '') +
            (m.empty.length ? `not given (unknown): ${m.empty.join(', ')}\n` : '') +
            (skipped ? `${skipped} record(s) skipped (--allow-partial)\n` : '') +
            `segments: IPv4 ${m.segments.v4}, IPv6 ${m.segments.v6}; ${m.countries} countries, ${m.organisations} AS organisations (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`,
        );
      },
    );

  geo
    .command('info')
    .configureHelp({ showGlobalOptions: true })
    .description(
      'which geo data the store enriches with: imported sources (file, build date, version) or the packaged default',
    )
    .action(() => {
      const db = dbOf(geo);
      // --format, like --db, is the parent's option (`geo info --format json`).
      const format = parseFormat((geo.opts() as { format: string }).format);
      const m = readGeoManifest(db);
      if (format === 'json') {
        process.stdout.write(
          JSON.stringify(
            m
              ? { db: db, source: 'imported', ...m }
              : { db: db, source: 'packaged', packages: packagedDefault() },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      if (!m) {
        if (format === 'table') process.stdout.write(`${db}: packaged default (${packagedDefault()})\n`);
        else
          process.stdout.write(render([{ source: 'packaged', version: packagedDefault() }], format) + '\n');
        return;
      }
      if (format === 'table')
        process.stdout.write(
          `${db}: imported ${m.importedAt} (${importedGeoPaths(db).bin})\n` +
            (m.defaults.length ? `from the packaged data: ${m.defaults.join('; ')}\n` : '') +
            (m.empty.length ? `not given (unknown): ${m.empty.join(', ')}\n` : ''),
        );
      process.stdout.write(render(sourceRows(m, format), format) + '\n');
    });

  geo
    .command('reset')
    .configureHelp({ showGlobalOptions: true })
    .description("remove the store's imported geo data: enrichment goes back to the packaged default")
    .action(() => {
      const db = dbOf(geo);
      const had = resetImportedGeo(db);
      process.stdout.write(
        (had ? `removed the imported geo data of ${db}` : `${db} had no imported geo data`) +
          `; enrichment uses the packaged default (${packagedDefault()}); flows stored before keep the countries and ASes they were given\n`,
      );
    });
}
