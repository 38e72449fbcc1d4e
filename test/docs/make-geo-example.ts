// Writes examples/geo/dbip-country-lite-2026-12.mmdb, the .mmdb the geo usage page imports: a
// small IPv6-tree MaxMind DB in DB-IP's country-lite layout (written by test/geo/mmdb-writer.ts)
// that puts North Korea's three blocks, 77.94.35.0/24 included, in KP. Run:
//   node --import tsx test/docs/make-geo-example.ts
import { writeFileSync } from 'node:fs';
import { writeMmdb } from '../geo/mmdb-writer.js';

const v4 = (a: number, b: number, c: number, d: number) =>
  (BigInt(a) << 24n) | (BigInt(b) << 16n) | (BigInt(c) << 8n) | BigInt(d);
const country = (iso: string) => ({
  country: { iso_code: iso, names: { en: iso } },
  continent: { code: 'AS' },
});
writeFileSync(
  'examples/geo/dbip-country-lite-2026-12.mmdb',
  writeMmdb(
    [
      { start: v4(175, 45, 176, 0), prefix: 96 + 22, data: country('KP') },
      { start: v4(210, 52, 109, 0), prefix: 96 + 24, data: country('KP') },
      { start: v4(77, 94, 35, 0), prefix: 96 + 24, data: country('KP') },
      { start: v4(188, 165, 0, 0), prefix: 96 + 16, data: country('FR') },
      { start: 0x2001_0db8n << 96n, prefix: 32, data: country('DE') },
    ],
    {
      ipVersion: 6,
      recordSize: 24,
      databaseType: 'DBIP-Country-Lite',
      buildEpoch: Date.UTC(2026, 11, 1) / 1000,
      ipv4Aliases: true,
      description: 'coinradar example in the layout of DB-IP IP to Country Lite',
    },
  ),
);
