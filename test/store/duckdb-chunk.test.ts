import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BIGINT, BLOB, INTEGER, UTINYINT, VARCHAR } from '@duckdb/node-api';
import { CHUNK_ROWS, readColumns, StagedChunk, setInt64 } from '../../src/store/duckdb/chunk.js';
import { DuckDbDatabase } from '../../src/store/duckdb/database.js';

// Values of row i, chosen to cover inline (≤ 12 bytes) and heap strings, empty values, multi-byte
// UTF-8, binary bytes with zeros, and NULLs in some chunks only.
const text = (i: number) =>
  i % 7 === 0 ? '' : i % 5 === 0 ? `short${i % 100}` : `a longer value ${i} ✓ ${'x'.repeat(i % 40)}`;
const blob = (i: number) => {
  const n = i % 3 === 0 ? 5 : 13 + (i % 50);
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = (i * 31 + k * 7) & 0xff;
  b[0] = 0;
  return b;
};
// NULLs only in the first chunk and in the third, so a chunk without NULLs follows one with them.
const isNull = (i: number) => (i < CHUNK_ROWS || (i >= 2 * CHUNK_ROWS && i < 3 * CHUNK_ROWS)) && i % 3 === 1;
const big = (i: number) => (i % 2 ? -1 : 1) * (i * 2 ** 33 + 12345);

test('StagedChunk: VARCHAR_HEAP and BLOB columns, NULLs through validity, across several chunks', async () => {
  const db = await DuckDbDatabase.open(':memory:');
  try {
    await db.run(
      'CREATE TABLE t (id INTEGER NOT NULL, v BIGINT, s VARCHAR, b BLOB, k UTINYINT, d VARCHAR NOT NULL)',
    );
    const ch = new StagedChunk(
      [INTEGER, BIGINT, VARCHAR, BLOB, UTINYINT, VARCHAR],
      ['INTEGER', 'BIGINT', 'VARCHAR_HEAP', 'BLOB', 'UTINYINT', 'VARCHAR'],
    );
    const n = 4 * CHUNK_ROWS + 17;
    const appender = await db.conn.createAppender('t');
    for (let from = 0; from < n; from += CHUNK_ROWS) {
      const rows = Math.min(CHUNK_ROWS, n - from);
      for (let k = 0; k < rows; k++) {
        const i = from + k;
        ch.i32(0)[k] = i;
        setInt64(ch.i64(1), k, big(i));
        ch.heap(2).set(k, text(i));
        ch.heap(3).setBytes(k, blob(i));
        ch.u8(4)[k] = i & 0xff;
        ch.varchar(5).set(k, `d${i % 3}`);
        if (isNull(i)) {
          ch.setNull(1, k);
          ch.setNull(2, k);
          ch.setNull(3, k);
        }
      }
      ch.append(appender, rows);
    }
    appender.closeSync();
    const got = await db.all<{
      id: number;
      v: number | null;
      s: string | null;
      b: Buffer | null;
      k: number;
      d: string;
    }>('SELECT * FROM t ORDER BY id');
    assert.equal(got.length, n);
    for (let i = 0; i < n; i++) {
      const r = got[i];
      assert.equal(r.id, i);
      assert.equal(r.k, i & 0xff);
      assert.equal(r.d, `d${i % 3}`);
      if (isNull(i)) {
        assert.deepEqual([r.v, r.s, r.b], [null, null, null], `row ${i}`);
        continue;
      }
      assert.equal(r.v, big(i), `row ${i}`);
      assert.equal(r.s, text(i), `row ${i}`);
      assert.deepEqual(r.b, Buffer.from(blob(i)), `row ${i}`);
    }
    const [nulls] = await db.all<{ n: number }>('SELECT count(*) - count(v) AS n FROM t');
    assert.equal(nulls.n, Array.from({ length: n }, (_, i) => i).filter(isNull).length);
  } finally {
    db.close();
  }
});

test('HeapColumn.reserve: a value written in place; one that turns out short is inlined', async () => {
  const db = await DuckDbDatabase.open(':memory:');
  try {
    await db.run('CREATE TABLE h (s VARCHAR)');
    const ch = new StagedChunk([VARCHAR], ['VARCHAR_HEAP']);
    const h = ch.heap(0);
    const values = ['0123456789abcdef0123', 'abc', '', 'exactly12byt', 'thirteen byte'];
    values.forEach((v, row) => {
      const at = h.reserve(row, v.length);
      h.heap.set(Buffer.from(v), at);
    });
    const appender = await db.conn.createAppender('h');
    ch.append(appender, values.length);
    appender.closeSync();
    assert.deepEqual(
      (await db.all<{ s: string }>('SELECT s FROM h')).map((r) => r.s),
      values,
    );
  } finally {
    db.close();
  }
});

test('readColumns: INTEGER and BIGINT columns of a multi-chunk result as typed arrays; a NULL is refused', async () => {
  const db = await DuckDbDatabase.open(':memory:');
  try {
    const n = 3 * CHUNK_ROWS + 5;
    const [a, b] = await readColumns(
      db.conn,
      `SELECT (i * 7 - 1000)::INTEGER, (i * 4294967311 - 2 ** 52)::BIGINT FROM range($1) t(i) ORDER BY i`,
      ['INTEGER', 'BIGINT'],
      [n],
    );
    assert.ok(a instanceof Int32Array && b instanceof Float64Array);
    assert.equal(a.length, n);
    for (let i = 0; i < n; i++) {
      assert.equal(a[i], i * 7 - 1000);
      assert.equal(b[i], i * 4294967311 - 2 ** 52);
    }
    const [none] = await readColumns(db.conn, 'SELECT 1::INTEGER WHERE false', ['INTEGER']);
    assert.equal(none.length, 0);
    await assert.rejects(
      readColumns(db.conn, 'SELECT CASE WHEN i = 3 THEN NULL ELSE i END::INTEGER FROM range(10) t(i)', [
        'INTEGER',
      ]),
      /has a NULL/,
    );
  } finally {
    db.close();
  }
});
