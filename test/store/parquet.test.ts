import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Converted, concatParquet, writeParquet } from '../../src/store/parquet/writer.js';

/** Indices with long runs, short runs and noise mixed, as the collector's columns have them. */
function indices(n: number, distinct: number, seed: number): Uint32Array {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const out = new Uint32Array(n);
  let i = 0;
  while (i < n) {
    const v = Math.floor(rnd() * distinct);
    const len = rnd() < 0.2 ? 1 + Math.floor(rnd() * 200) : 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < len && i < n; k++) out[i++] = v;
  }
  return out;
}

test('Parquet segments: every encoding DuckDB reads back exactly (PLAIN, dictionary + RLE/bit-packed hybrid, statistics)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-parquet-'));
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    let seed = 1;
    for (const distinct of [1, 2, 3, 7, 8, 9, 255, 256, 257, 5000, 70000]) {
      for (const n of [1, 7, 8, 9, 16, 17, 1000, 20011]) {
        const idx = indices(n, distinct, seed++);
        const dict = Array.from({ length: Math.max(...idx) + 1 }, (_, k) => `v${k}-ü`);
        // The same values as u32 (dictionary-coded when ≤ 65,536 distinct, else PLAIN) and as an
        // int64 with a big high half (never a dictionary).
        const u32 = new Uint32Array(idx.map((v) => v * 7919));
        const big = new BigInt64Array(n);
        for (let i = 0; i < n; i++) big[i] = (BigInt(idx[i]) << 40n) - 5n;
        const path = join(dir, `d${distinct}-${n}.parquet`);
        writeParquet(path, n, [
          { name: 's', kind: 'string', dict, indices: idx },
          {
            name: 'u',
            kind: 'int32',
            converted: Converted.UINT_32,
            data: new Uint8Array(u32.buffer),
            dict: true,
          },
          {
            name: 'b',
            kind: 'int64',
            data: new Uint8Array(big.buffer),
            dict: true,
            stats: { min: big.reduce((a, b) => (b < a ? b : a)), max: big.reduce((a, b) => (b > a ? b : a)) },
          },
        ]);
        const r = await conn.runAndReadAll(`SELECT s, u, b::VARCHAR AS b FROM read_parquet('${path}')`);
        const rows = r.getRows();
        assert.equal(rows.length, n, `rows, ${distinct} distinct, ${n} rows`);
        for (let i = 0; i < n; i++) {
          assert.equal(rows[i][0], dict[idx[i]], `s row ${i} (${distinct} distinct, ${n} rows)`);
          assert.equal(Number(rows[i][1]), u32[i], `u row ${i}`);
          assert.equal(rows[i][2], String(big[i]), `b row ${i}`);
        }
        // The statistics let DuckDB skip the file on a range outside it.
        const st = await conn.runAndReadAll(
          `SELECT stats_min_value, stats_max_value FROM parquet_metadata('${path}') WHERE path_in_schema = 'b'`,
        );
        const [min, max] = st.getRows()[0];
        assert.equal(String(min), String(big.reduce((a, b) => (b < a ? b : a))));
        assert.equal(String(max), String(big.reduce((a, b) => (b > a ? b : a))));
      }
    }
  } finally {
    conn.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Parquet concatenation: row groups of several files copied into one, every value and statistic as before', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-parquet-'));
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const inputs = [];
    const expected: [string, number][] = [];
    for (let f = 0; f < 5; f++) {
      const n = 1 + f * 997;
      const idx = indices(n, 3 + f * 50, 100 + f);
      const dict = Array.from({ length: Math.max(...idx) + 1 }, (_, k) => `file${f}-${k}`);
      const ids = new BigInt64Array(n).map((_, i) => BigInt(f * 100000 + i));
      const path = join(dir, `in${f}.parquet`);
      const layout = writeParquet(path, n, [
        { name: 's', kind: 'string', dict, indices: idx },
        {
          name: 'id',
          kind: 'int64',
          data: new Uint8Array(ids.buffer),
          stats: { min: ids[0], max: ids[n - 1] },
        },
      ]);
      inputs.push({ path, layout });
      for (let i = 0; i < n; i++) expected.push([dict[idx[i]], Number(ids[i])]);
    }
    const out = join(dir, 'all.parquet');
    const layout = await concatParquet(out, inputs);
    assert.equal(layout.rowGroups.length, 5);
    const rows = (await conn.runAndReadAll(`SELECT s, id FROM read_parquet('${out}')`)).getRows();
    assert.deepEqual(
      rows.map((r) => [r[0], Number(r[1])]),
      expected,
    );
    // Each row group keeps its statistics: a filter on one file's ids reads only that group.
    const st = (
      await conn.runAndReadAll(
        `SELECT stats_min_value, stats_max_value FROM parquet_metadata('${out}') WHERE path_in_schema = 'id' ORDER BY row_group_id`,
      )
    ).getRows();
    assert.deepEqual(
      st.map((r) => [Number(r[0]), Number(r[1])]),
      inputs.map((_, f) => [f * 100000, f * 100000 + f * 997]),
    );
    await assert.rejects(
      concatParquet(join(dir, 'bad.parquet'), [
        inputs[0],
        { path: inputs[1].path, layout: { ...inputs[1].layout, schema: [] } },
      ]),
      /another schema/,
    );
  } finally {
    conn.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Parquet segments: DELTA_BINARY_PACKED int64 (ids, times) and dictionary-coded doubles and constants read back exactly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cr-parquet-'));
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    let s = 7;
    const rnd = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
    // Each sequence as the collector has them, and the edges of the encoding: a run of ids, times
    // that jitter around a clock, steps needing 24–32 bits (packed in two parts), negative values,
    // and jumps of 2^32 and more (written PLAIN instead).
    const shapes: Record<string, (i: number) => number> = {
      ids: (i) => 123456789 + i,
      times: (i) => 1_700_000_000_000 + i * 3 - Math.floor(rnd() * 60_000),
      wide: (i) => (i % 2 ? 0 : Math.floor(rnd() * 2 ** 31)),
      negative: (i) => -5_000_000_000 + Math.floor(rnd() * 2 ** 25) - i,
      jumps: (i) => (i % 3 === 0 ? 2 ** 50 : -(2 ** 50)) + i,
      // Near the ±8.64e15 ms the decoders let through: neighbours close, values too big to delta-code.
      far: (i) => -8_000_000_000_000_000 + i,
      constant: () => 42,
    };
    for (const [shape, f] of Object.entries(shapes)) {
      for (const n of [1, 2, 31, 32, 33, 127, 128, 129, 130, 1000, 20011]) {
        const values = Float64Array.from({ length: n }, (_, i) => f(i));
        // Doubles with few distinct values (counters), a fraction, zero; a constant of each width.
        const dbl = Float64Array.from({ length: n }, (_, i) => [0, 1, 2.5, 1e15, 64 * (i % 50)][i % 5]);
        const c32 = new Uint32Array(n).fill(0xffff);
        const c64 = new Float64Array(n);
        const path = join(dir, `${shape}-${n}.parquet`);
        const min = values.reduce((a, b) => Math.min(a, b));
        const max = values.reduce((a, b) => Math.max(a, b));
        writeParquet(path, n, [
          { name: 'v', kind: 'int64-delta', values, stats: { min: BigInt(min), max: BigInt(max) } },
          { name: 'd', kind: 'double', data: new Uint8Array(dbl.buffer), dict: true },
          { name: 'c', kind: 'int32', data: new Uint8Array(c32.buffer), dict: true },
          { name: 'z', kind: 'double', data: new Uint8Array(c64.buffer), dict: true },
        ]);
        const rows = (
          await conn.runAndReadAll(`SELECT v::VARCHAR, d, c, z FROM read_parquet('${path}')`)
        ).getRows();
        assert.equal(rows.length, n, `${shape}, ${n} rows`);
        for (let i = 0; i < n; i++) {
          assert.equal(rows[i][0], String(values[i]), `${shape} v row ${i} of ${n}`);
          assert.equal(rows[i][1], dbl[i], `${shape} d row ${i} of ${n}`);
          assert.equal(rows[i][2], 0xffff, `c row ${i}`);
          assert.equal(rows[i][3], 0, `z row ${i}`);
        }
        const meta = (
          await conn.runAndReadAll(
            `SELECT path_in_schema, encodings, stats_min_value, stats_max_value FROM parquet_metadata('${path}')`,
          )
        ).getRows();
        const v = meta.find((r) => r[0] === 'v')!;
        assert.equal(String(v[2]), String(min));
        assert.equal(String(v[3]), String(max));
        // Near neighbours are delta-coded; neighbours 2^32 and more apart fall back to PLAIN.
        assert.match(
          String(v[1]),
          (shape === 'jumps' && n > 2) || shape === 'far' ? /^PLAIN/ : /DELTA_BINARY_PACKED/,
          shape,
        );
        for (const col of ['d', 'c', 'z'])
          assert.match(String(meta.find((r) => r[0] === col)![1]), /DICTIONARY/, `${col} dictionary-coded`);
      }
    }
  } finally {
    conn.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
});
