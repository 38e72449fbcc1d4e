/**
 * The collector's spool: what it holds while its store fails (held-batches.ts), also on disk, so
 * that a collector stopped or killed during an outage loses none of it and an outage longer than
 * memory allows is still kept (`collect --spool DIR`). The next collector on the same directory
 * stores what is left before anything new.
 *
 * `DIR/held.spool`:
 * - a 16-byte header: "CRSPOOL1" and 8 bytes kept for later;
 * - records, one a batch: u32 magic "CRSB", u32 record length, u32 flows, u32 JSON length, the JSON
 *   ({source, exporters}), each of BATCH_COLUMNS cut to the flows (in that order, as the batch's
 *   own typed arrays), and a CRC-32 of everything before it in the record.
 *
 * `DIR/held.spool.state` (JSON, replaced whole by a rename, so a kill leaves the old or the new):
 * - `consumed`: the offset of the first record not yet stored (those before are committed);
 * - `undo`: flow ids a store without transactions (ClickHouse) may hold from an interval that was
 *   not committed (SourceWriter.uncommitted): the next collector deletes them before it stores
 *   what the spool holds, so nothing is stored twice.
 *
 * Writes go to the page cache (a killed process loses nothing written) and to the disk at each
 * `sync()` (the collector's commit tick, every half commit interval while records were written),
 * so a machine that loses power loses at most what was spooled since the last one. The state file
 * is flushed before its rename, so it is never found empty or half written. A record cut short
 * (killed while writing it, or lost with the power) or one whose CRC does not check is named with
 * its byte offset, and the file is cut there: the records before it are stored.
 * `DIR/held.spool.lock` holds the pid of the collector using the directory; a second one is refused.
 */
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  renameSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { InputProblem } from '../flow/diagnostics.js';
import { FlowBatch } from '../flow/record.js';
import type { Uncommitted } from '../store/store.js';
import { batchFrom } from './held-batches.js';
import { BATCH_COLUMNS } from './udp-receiver.js';

const FILE_MAGIC = 'CRSPOOL1';
const HEADER = 16;
const RECORD_MAGIC = 0x42535243; // "CRSB" little-endian
const RECORD_HEAD = 16;

/** Where a batch is in the spool. */
export interface SpoolRef {
  offset: number;
  bytes: number;
  flows: number;
}

type Column = (typeof BATCH_COLUMNS)[number];
type Ctor = new (n: number) => ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number };

/** Each column's array type and values per flow (from a batch of one flow). */
const COLUMN_TYPES: { name: Column; ctor: Ctor; per: number; size: number }[] = (() => {
  const one = new FlowBatch(1);
  return BATCH_COLUMNS.map((name) => {
    const a = one[name] as unknown as { constructor: Ctor; length: number; BYTES_PER_ELEMENT: number };
    return { name, ctor: a.constructor, per: a.length, size: a.BYTES_PER_ELEMENT };
  });
})();

/** Default bound of the spool file: 4 GiB, ~42 M NetFlow flows (~35 min at 20 k flows/s). */
export const DEFAULT_SPOOL_BYTES = 4 * 2 ** 30;

export class Spool {
  /** Where the next record goes (the file's length). */
  private end = HEADER;
  /** The first record not yet stored. */
  private consumed = HEADER;
  /** What a store may hold of an interval not committed (see the file's comment). */
  private undoList: Uncommitted[] = [];
  /** The last write that failed (the disk full, …): what did not fit stays in memory or is lost. */
  lastError: string | null = null;
  private closed = false;
  /** Written (records, or the state's rename) since the last sync(). */
  private unsynced = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly lockPath: string,
    readonly maxBytes: number,
  ) {}

  private get statePath(): string {
    return `${this.path}.state`;
  }

  /**
   * Opens (creates) DIR/held.spool. `left`: the records a previous collector held and did not
   * store, in order; `problems`: a record cut short or corrupt (the file is cut there).
   */
  static open(
    dir: string,
    maxBytes = DEFAULT_SPOOL_BYTES,
  ): { spool: Spool; left: SpoolRef[]; undo: Uncommitted[]; problems: InputProblem[] } {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, 'held.spool');
    const lockPath = `${path}.lock`;
    takeLock(lockPath);
    let fd: number;
    try {
      fd = openSync(path, existsSync(path) ? 'r+' : 'w+', 0o600);
    } catch (e) {
      giveLockUp(lockPath);
      throw e;
    }
    const spool = new Spool(path, fd, lockPath, maxBytes);
    try {
      const { left, problems } = spool.scan();
      return { spool, left, undo: spool.undoList, problems };
    } catch (e) {
      // Given up as found: nothing of it removed.
      spool.closed = true;
      closeSync(spool.fd);
      giveLockUp(lockPath);
      throw e;
    }
  }

  /** Bytes of records not yet stored. */
  get held(): number {
    return this.end - this.consumed;
  }

  /** Writes `batch` at the end; null (and `lastError`) when it would pass maxBytes or the write fails. */
  append(batch: FlowBatch): SpoolRef | null {
    const json = Buffer.from(JSON.stringify({ source: batch.source, exporters: batch.exporters }));
    let bytes = RECORD_HEAD + json.length + 4;
    const cap = batch.firstMs.length;
    for (const c of COLUMN_TYPES) bytes += batch.length * (batch[c.name].length / cap) * c.size;
    if (this.end - HEADER + bytes > this.maxBytes) {
      this.lastError = `the spool is full (${this.maxBytes} bytes, --spool-size)`;
      return null;
    }
    const buf = Buffer.allocUnsafe(bytes);
    buf.writeUInt32LE(RECORD_MAGIC, 0);
    buf.writeUInt32LE(bytes, 4);
    buf.writeUInt32LE(batch.length, 8);
    buf.writeUInt32LE(json.length, 12);
    json.copy(buf, RECORD_HEAD);
    let at = RECORD_HEAD + json.length;
    for (const c of COLUMN_TYPES) {
      const a = batch[c.name];
      const n = batch.length * (a.length / cap) * c.size;
      buf.set(new Uint8Array(a.buffer, a.byteOffset, n), at);
      at += n;
    }
    buf.writeUInt32LE(crc32(buf.subarray(0, at)), at);
    try {
      let done = 0;
      while (done < bytes) done += writeSync(this.fd, buf, done, bytes - done, this.end + done);
    } catch (e) {
      // Whatever part was written is past `end`: the next record overwrites it, and a scan cut there.
      this.lastError = (e as Error).message;
      return null;
    }
    const ref = { offset: this.end, bytes, flows: batch.length };
    this.end += bytes;
    this.unsynced = true;
    this.lastError = null;
    return ref;
  }

  /** The batch at `ref`, in columns cut to its flows. */
  read(ref: SpoolRef): FlowBatch {
    const buf = Buffer.allocUnsafe(ref.bytes);
    let done = 0;
    while (done < ref.bytes) {
      const n = readSync(this.fd, buf, done, ref.bytes - done, ref.offset + done);
      if (n === 0) break;
      done += n;
    }
    const why = done < ref.bytes ? 'cut short' : checkRecord(buf);
    if (why) throw new Error(`${this.path}: byte ${ref.offset}: the record ${why}`);
    return parseRecord(buf);
  }

  /** Everything stored: the file back to its header. */
  clear(): void {
    this.end = this.consumed = HEADER;
    this.undoList = [];
    ftruncateSync(this.fd, HEADER);
    this.saveState();
  }

  /** What the store may hold uncommitted of the records not yet stored (replaces what was said before). */
  setUndo(undo: Uncommitted[]): void {
    this.undoList = undo;
    this.saveState();
  }

  get undo(): Uncommitted[] {
    return this.undoList;
  }

  /** Records from `ref` on are not yet stored (null: none are): kept in the header for the next collector. */
  storedUpTo(ref: SpoolRef | null): void {
    this.consumed = ref ? ref.offset : this.end;
    // Committed: nothing of it is uncommitted any more.
    this.undoList = [];
    this.saveState();
  }

  /**
   * What was written since the last call, to the disk: the records (fdatasync) and the directory
   * (the state's rename). A failure is kept in `lastError`, not thrown: the records are still in
   * the page cache, and the next call tries again.
   */
  sync(): void {
    if (!this.unsynced || this.closed) return;
    try {
      fdatasyncSync(this.fd);
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
      this.unsynced = false;
    } catch (e) {
      this.lastError = `flushing ${this.path} to disk: ${(e as Error).message}`;
    }
  }

  /** Closes the file (removed when it holds nothing; flushed to disk when it does) and gives the directory up. */
  close(): void {
    if (this.closed) return;
    if (this.held > 0) this.sync();
    this.closed = true;
    closeSync(this.fd);
    if (this.held === 0 && this.undoList.length === 0) {
      rmSync(this.path, { force: true });
      rmSync(this.statePath, { force: true });
    }
    giveLockUp(this.lockPath);
  }

  private writeHeader(): void {
    const h = Buffer.alloc(HEADER);
    h.write(FILE_MAGIC, 0, 'latin1');
    writeSync(this.fd, h, 0, HEADER, 0);
  }

  /** consumed and undo, replaced whole (a rename): a kill leaves the old state or the new. */
  private saveState(): void {
    const tmp = `${this.statePath}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify({ consumed: this.consumed, undo: this.undoList }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.statePath);
    this.unsynced = true;
  }

  private readState(size: number): void {
    if (!existsSync(this.statePath)) return;
    const text = readFileSync(this.statePath, 'utf8');
    let st: { consumed?: unknown; undo?: unknown };
    try {
      st = JSON.parse(text) as typeof st;
    } catch (e) {
      throw new Error(`${this.statePath}: not JSON (${(e as Error).message}); move the spool away`, {
        cause: e,
      });
    }
    const consumed = Number(st.consumed);
    if (!Number.isInteger(consumed) || consumed < HEADER || consumed > size)
      throw new Error(
        `${this.statePath}: consumed ${String(st.consumed)} is outside ${this.path} (${size} bytes)`,
      );
    const undo = Array.isArray(st.undo) ? (st.undo as Uncommitted[]) : [];
    for (const u of undo)
      if (
        !Number.isInteger(u?.sourceId) ||
        !Array.isArray(u.ids) ||
        u.ids.length % 2 !== 0 ||
        !u.ids.every((x) => Number.isSafeInteger(x) && x >= 0)
      )
        throw new Error(`${this.statePath}: an undo entry that is not {sourceId, ids}: ${JSON.stringify(u)}`);
    this.consumed = consumed;
    this.undoList = undo;
  }

  /** Reads the header and every record after the consumed offset; cuts the file at the first bad one. */
  private scan(): { left: SpoolRef[]; problems: InputProblem[] } {
    const size = fstatSync(this.fd).size;
    if (size === 0) {
      this.writeHeader();
      rmSync(this.statePath, { force: true });
      return { left: [], problems: [] };
    }
    const h = Buffer.alloc(HEADER);
    if (readSync(this.fd, h, 0, HEADER, 0) < HEADER || h.toString('latin1', 0, 8) !== FILE_MAGIC)
      throw new Error(
        `${this.path}: byte 0: not a coinradar spool (no "${FILE_MAGIC}" header); move it away`,
      );
    this.readState(size);
    const consumed = this.consumed;
    const left: SpoolRef[] = [];
    const problems: InputProblem[] = [];
    const head = Buffer.alloc(RECORD_HEAD);
    let at = consumed;
    while (at < size) {
      let why: string | null;
      let bytes = 0;
      if (readSync(this.fd, head, 0, RECORD_HEAD, at) < RECORD_HEAD) why = 'is cut short';
      else if (head.readUInt32LE(0) !== RECORD_MAGIC) why = 'does not start with "CRSB"';
      else {
        bytes = head.readUInt32LE(4);
        if (bytes < RECORD_HEAD + 4 || at + bytes > size) why = 'is cut short';
        else {
          const buf = Buffer.allocUnsafe(bytes);
          readSync(this.fd, buf, 0, bytes, at);
          why = checkRecord(buf);
        }
      }
      if (why) {
        problems.push({
          source: this.path,
          offset: at,
          unit: 'byte',
          kind: 'spool-record',
          message: `the record ${why} (a collector stopped while writing it?); the ${size - at} bytes from here are not recovered, the records before are`,
        });
        ftruncateSync(this.fd, at);
        break;
      }
      left.push({ offset: at, bytes, flows: head.readUInt32LE(8) });
      at += bytes;
    }
    this.end = at;
    return { left, problems };
  }
}

/** Why a whole record does not check, or null. */
function checkRecord(buf: Buffer): string | null {
  if (buf.readUInt32LE(0) !== RECORD_MAGIC) return 'does not start with "CRSB"';
  if (buf.readUInt32LE(4) !== buf.length) return 'has the wrong length';
  const at = buf.length - 4;
  if (crc32(buf.subarray(0, at)) !== buf.readUInt32LE(at)) return 'does not match its CRC-32';
  const flows = buf.readUInt32LE(8);
  let bytes = RECORD_HEAD + buf.readUInt32LE(12) + 4;
  for (const c of COLUMN_TYPES) bytes += flows * c.per * c.size;
  return bytes === buf.length ? null : 'has columns of the wrong length';
}

function parseRecord(buf: Buffer): FlowBatch {
  const flows = buf.readUInt32LE(8);
  const jsonLength = buf.readUInt32LE(12);
  const meta = JSON.parse(buf.toString('utf8', RECORD_HEAD, RECORD_HEAD + jsonLength)) as {
    source: string;
    exporters: string[];
  };
  let at = RECORD_HEAD + jsonLength;
  const cols: Record<string, ArrayBufferView> = {};
  for (const c of COLUMN_TYPES) {
    const a = new c.ctor(flows * c.per);
    const n = flows * c.per * c.size;
    new Uint8Array(a.buffer, a.byteOffset, n).set(buf.subarray(at, at + n));
    cols[c.name] = a;
    at += n;
  }
  return batchFrom({ length: flows, exporters: meta.exporters, cols }, meta.source);
}

/** Spools open in this process (by lock path): the pid in the lock file cannot tell them apart. */
const openHere = new Set<string>();

/** DIR/held.spool.lock with this pid; refused while a live process (this one too) holds it. */
function takeLock(lockPath: string): void {
  if (openHere.has(lockPath))
    throw new Error(`${lockPath}: the spool is in use by this process; give each collector its own --spool`);
  if (existsSync(lockPath)) {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
      throw new Error(
        `${lockPath}: the spool is in use by process ${pid}; give each collector its own --spool`,
      );
  }
  writeFileSync(lockPath, `${process.pid}\n`, { mode: 0o600 });
  openHere.add(lockPath);
}

function giveLockUp(lockPath: string): void {
  openHere.delete(lockPath);
  rmSync(lockPath, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
