/**
 * The console's tables beyond the first slice (issue 11): the hosts table as CSV from the API
 * (`/v1/hosts?format=csv`, same access check), the CSV writer's escaping (quotes, line breaks,
 * spreadsheet formulas), and a host's sessions on its page, counted as `coinradar hosts` counts
 * them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInfrastructure } from '../../src/detect/infrastructure.js';
import { createDetector } from '../../src/detect/registry.js';
import { redetectStore } from '../../src/detect/rerun.js';
import { ScreeningIndex } from '../../src/sanctions/screen.js';
import { CRYPTO_PORTS } from '../../src/scenario/world.js';
import { buildServer } from '../../src/server/app.js';
import { AuditLog } from '../../src/server/audit.js';
import { csvCell, toCsv } from '../../src/server/csv.js';
import { ApiKeyFile } from '../../src/server/keys.js';
import { HOST_CSV } from '../../src/server/network.js';
import { openDetectionStore } from '../../src/store/detections.js';
import { hostProfiles } from '../../src/store/duckdb/hosts.js';
import { dotted, withWorldStore } from '../helpers/world-store.js';
import { listAndKey } from './fixture.js';

/** RFC 4180 lines back into cells (quoted cells with commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  assert.equal(cell + row.join(''), '', 'the text ends with CRLF');
  return rows;
}

test('CSV cells: quotes, commas and line breaks quoted; a formula written as text; numbers as numbers', () => {
  assert.equal(csvCell('plain'), 'plain');
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('two\nlines'), '"two\nlines"');
  assert.equal(csvCell('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
  for (const f of ['+1', '-1+1', '@SUM(A1)', '\tx']) assert.equal(csvCell(f), `'${f}`);
  assert.equal(csvCell(-1), '-1');
  assert.equal(csvCell(0.25), '0.25');
  assert.equal(csvCell(Number.NaN), '');
  assert.equal(csvCell(null), '');
  const rows = [
    { a: 'x,y', b: 1 },
    { a: 'line\r\nbreak', b: 2 },
  ];
  const text = toCsv(
    [
      { title: 'a', value: (r: (typeof rows)[0]) => r.a },
      { title: 'b', value: (r: (typeof rows)[0]) => r.b },
    ],
    rows,
  );
  assert.deepEqual(parseCsv(text), [
    ['a', 'b'],
    ['x,y', '1'],
    ['line\r\nbreak', '2'],
  ]);
});

test('hosts as CSV from the API (what /v1/hosts gives as JSON, a line a host; key needed); a host page lists its sessions as coinradar hosts counts them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-tables-'));
  const index = new ScreeningIndex();
  const keys = new ApiKeyFile(join(dir, 'db.keys.json'));
  const { key } = listAndKey(index, keys);
  const audit = new AuditLog(join(dir, 'audit.jsonl'));
  try {
    await withWorldStore(
      {
        seed: 7,
        hosts: 10,
        days: 10,
        miners: 3,
        startMs: Date.UTC(2017, 4, 10),
        onsetMs: Date.UTC(2017, 4, 14),
        growth: 'step',
      },
      async (world, store) => {
        await redetectStore(store, await openDetectionStore(store), createDetector(loadInfrastructure()));
        const app = buildServer({ index, keys, audit, rate: 0, network: { db: store.db } });
        try {
          const r = await app.inject({
            method: 'GET',
            url: '/v1/hosts?scope=country:KP&format=csv',
            headers: { 'x-api-key': key },
          });
          assert.equal(r.statusCode, 200, r.body);
          assert.match(String(r.headers['content-type']), /^text\/csv; charset=utf-8/);
          assert.equal(r.headers['content-disposition'], 'attachment; filename="hosts.csv"');
          const profiles = await hostProfiles(store.db, {
            scope: { country: 'KP' },
            ports: [...CRYPTO_PORTS],
            minConfidence: 'port',
            limit: 1000,
          });
          assert.ok(profiles.length >= 3, `${profiles.length} hosts`);
          const rows = parseCsv(r.body);
          assert.deepEqual(
            rows[0],
            HOST_CSV.map((c) => c.title),
          );
          assert.equal(rows.length, profiles.length + 1);
          for (let i = 0; i < profiles.length; i++) {
            const p = profiles[i];
            const row = Object.fromEntries(rows[0].map((t, j) => [t, rows[i + 1][j]]));
            assert.equal(row.host, p.host);
            assert.equal(Number(row.flows), p.flows);
            assert.equal(Number(row.sessions), p.sessions);
            assert.equal(row.first, new Date(p.firstMs).toISOString());
            assert.equal(row.wallets, p.wallets.join(' '));
            assert.equal(row.pools, p.pools.join(' '));
          }
          // The same route, the same check: no key, no CSV.
          const anon = await app.inject({ method: 'GET', url: '/v1/hosts?format=csv' });
          assert.equal(anon.statusCode, 401);
          const bad = await app.inject({
            method: 'GET',
            url: '/v1/hosts?format=xlsx',
            headers: { 'x-api-key': key },
          });
          assert.equal(bad.statusCode, 400);

          // Sessions: per peer and service port, split at gaps over 10 min — the count and flows
          // of coinradar hosts's profile for the host.
          const miners = world.crypto.filter((c) => c.kind === 'miner').map((c) => dotted(c.ip));
          for (const ip of miners) {
            const page = (
              await app.inject({ method: 'GET', url: `/v1/hosts/${ip}`, headers: { 'x-api-key': key } })
            ).json();
            const [profile] = await hostProfiles(store.db, {
              scope: { host: ip },
              ports: [...CRYPTO_PORTS],
              minConfidence: 'port',
            });
            assert.ok(profile, ip);
            assert.equal(page.sessions.length, profile.sessions, ip);
            assert.equal(
              page.sessions.reduce((s: number, x: { flows: number }) => s + x.flows, 0),
              profile.flows,
              ip,
            );
            let prev = -Infinity;
            for (const s of page.sessions) {
              assert.ok(s.firstMs >= prev, 'oldest first');
              prev = s.firstMs;
              assert.ok(s.lastMs >= s.firstMs);
              assert.ok(profile.ports.includes(s.port), `${s.port} among ${profile.ports.join()}`);
            }
            assert.ok(
              page.sessions.some((s: { labels: string[] }) => s.labels.includes('stratum')),
              `a Stratum session of ${ip}`,
            );
          }
        } finally {
          await app.close();
        }
      },
    );
  } finally {
    await audit.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
