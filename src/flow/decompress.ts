/**
 * Compressed input and standard input for every file format. The readers open a path and some of
 * them read at offsets (pcapng sections, nfcapd blocks, the fingerprint's last MiB), so an input
 * that is compressed (sniffed from its magic number, never the name) or is not a regular file
 * (`-`, /dev/stdin, a FIFO) is first written out decompressed to a spool file in a private
 * directory under os.tmpdir(), bounded in size, and that path goes to format detection and the
 * readers. A plain regular file is read in place, as before.
 */
import { onEarlyExit } from '../process/early-exit.js';
import {
  createReadStream,
  mkdtempSync,
  openSync,
  closeSync,
  readSync,
  writeSync,
  rmSync,
  statSync,
  statfsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, pipeline } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
// A CommonJS bundle whose named export node's ESM loader cannot see: take it from the default.
import xzDecompress from 'xz-decompress';
import Bunzip from 'seek-bzip';
import type { InputProblem } from './diagnostics.js';
export { parseSize } from './size.js';

export type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz';

/** The compression whose magic number `head` starts with (gzip, zstd frame, bzip2 stream, xz stream). */
export function sniffCompression(head: Uint8Array): Compression | undefined {
  const b = head;
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 8) return 'gzip';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  // "BZh" and a block size digit; text that starts with "BZh1" is not taken for bzip2 unless the
  // block magic (pi) or the end-of-stream magic (sqrt pi) of an empty stream follows.
  if (b.length >= 10 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68 && b[3] >= 0x31 && b[3] <= 0x39) {
    const m = Buffer.from(b.subarray(4, 10)).toString('hex');
    if (m === '314159265359' || m === '177245385090') return 'bzip2';
  }
  if (
    b.length >= 6 &&
    b[0] === 0xfd &&
    b[1] === 0x37 &&
    b[2] === 0x7a &&
    b[3] === 0x58 &&
    b[4] === 0x5a &&
    b[5] === 0
  )
    return 'xz';
  return undefined;
}

/** Bytes of the longest magic number above: enough of a stream's start to sniff. */
const SNIFF_BYTES = 10;

export const DEFAULT_SPOOL_LIMIT = 64 * 2 ** 30;

/**
 * The default bound on a spool: 64 GiB or 90 % of the space free under os.tmpdir(), whichever is
 * less, so that a decompression bomb is refused before the disk is full.
 */
export function defaultSpoolLimit(dir = tmpdir()): number {
  try {
    const fs = statfsSync(dir);
    return Math.min(DEFAULT_SPOOL_LIMIT, Math.floor(fs.bavail * fs.bsize * 0.9));
  } catch {
    return DEFAULT_SPOOL_LIMIT;
  }
}

export interface OpenInputOptions {
  /** Refuse a spool that would grow past this many bytes (default: defaultSpoolLimit()). */
  spoolLimit?: number;
  /** Directory for the spool's private directory (default os.tmpdir()). */
  tmpDir?: string;
  /** What `-` reads (default process.stdin; tests pass their own stream). */
  stdin?: Readable;
  /** Input bytes read so far while spooling; `total` is 0 when unknown (a pipe). */
  onProgress?: (read: number, total: number) => void;
}

export interface OpenedInput {
  /** What the readers open: the input itself, or the spool file. */
  path: string;
  /** Name stored with the source: the path as given, 'stdin' for `-`. */
  name: string;
  /** Source named in problems: 'conn.log.gz (gzip, decompressed)', 'stdin', or the path. */
  label: string;
  compression?: Compression;
  /** Bytes written to the spool file (the decompressed size); 0 when read in place. */
  spooledBytes: number;
  /** Input bytes read while spooling (the compressed size). */
  inputBytes: number;
  /** Decompression stopped early: what was decoded before is at `path`, and this says where and what was lost. */
  problem?: InputProblem;
  /** Nothing can be read (the spool limit was passed); `path` is not to be read. */
  error?: InputProblem;
  /** Remove the spool (no-op for an input read in place). */
  close(): void;
}

/** Names of standard input that are read as `-` unless they are a regular file (`< file`). */
const STDIN_PATHS = new Set(['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0']);

/** Opens `path` (or `-`) for the readers: in place, or decompressed/spooled to a temporary file. */
export async function openInput(path: string, opts: OpenInputOptions = {}): Promise<OpenedInput> {
  const isStdin = path === '-';
  const name = isStdin ? 'stdin' : path;
  let total = 0;
  if (!isStdin) {
    const st = statSync(path);
    if (st.isFile()) {
      const compression = sniffCompression(readStart(path, SNIFF_BYTES));
      if (!compression) {
        return { path, name, label: name, spooledBytes: 0, inputBytes: st.size, close: () => {} };
      }
      total = st.size;
      if (compression === 'bzip2') return spoolBzip2File(path, name, st.size, opts);
    }
  }
  // /dev/stdin cannot be opened when standard input is a socket (ENXIO: as node's spawn and some
  // service managers give it); it is the same stream as process.stdin, so read that.
  const raw = isStdin || STDIN_PATHS.has(path) ? (opts.stdin ?? process.stdin) : createReadStream(path);
  return spoolStream(raw, name, total, opts);
}

function readStart(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** A private directory (mode 0700) with the spool file; removing it removes the spool. */
class Spool {
  readonly dir: string;
  readonly file: string;
  readonly fd: number;
  bytes = 0;
  private closed = false;
  private readonly release: () => void;

  constructor(
    tmp: string,
    readonly limit: number,
  ) {
    this.dir = mkdtempSync(join(tmp, 'coinradar-spool-'));
    // Ctrl-C or SIGTERM would end the process without the `finally` that removes the spool.
    this.release = onEarlyExit(() => this.remove());
    this.file = join(this.dir, 'input');
    this.fd = openSync(this.file, 'wx', 0o600);
  }

  /** Append; throws SpoolLimit past the limit (nothing past it is written). */
  write(chunk: Uint8Array): void {
    if (this.bytes + chunk.length > this.limit) throw new SpoolLimit(this.bytes + chunk.length);
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
    this.bytes += chunk.length;
  }

  finish(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
  }

  remove(): void {
    this.finish();
    rmSync(this.dir, { recursive: true, force: true });
    this.release();
  }
}

class SpoolLimit extends Error {
  constructor(readonly reached: number) {
    super('spool limit');
  }
}

function labelOf(name: string, compression: Compression | undefined): string {
  return compression ? `${name} (${compression}, decompressed)` : name;
}

function opened(
  spool: Spool,
  name: string,
  compression: Compression | undefined,
  inputBytes: number,
  problem?: InputProblem,
): OpenedInput {
  spool.finish();
  return {
    path: spool.file,
    name,
    label: labelOf(name, compression),
    compression,
    spooledBytes: spool.bytes,
    inputBytes,
    problem,
    close: () => spool.remove(),
  };
}

function limitError(
  spool: Spool,
  name: string,
  compression: Compression | undefined,
  at: number,
): OpenedInput {
  spool.remove();
  const what = compression ? `decompressed ${compression} data` : 'the input spooled from a stream';
  return {
    path: spool.file,
    name,
    label: labelOf(name, compression),
    compression,
    spooledBytes: 0,
    inputBytes: at,
    error: {
      source: name,
      offset: at,
      unit: 'byte',
      kind: 'spool-limit',
      message: `${what} passes the spool limit of ${spool.limit} bytes (--spool-limit; at input byte ${at}); nothing read`,
    },
    close: () => {},
  };
}

/** xz-embedded's enum xz_ret (xz.h). */
const XZ_ERRORS: Record<number, string> = {
  2: 'unsupported integrity check',
  3: 'out of memory',
  4: 'needs more memory than allowed',
  5: 'not an xz stream',
  6: 'unsupported options',
  7: 'corrupt data',
  8: 'no progress: the data ends early',
};

function decodeProblem(
  name: string,
  compression: Compression,
  offset: number,
  inputBytes: number,
  decoded: number,
  err: unknown,
): InputProblem {
  let why = err instanceof Error ? err.message : String(err);
  // xz-decompress reports xz-embedded's return codes by number.
  const xz = /error code (\d+)/.exec(why);
  if (compression === 'xz' && xz) why = `${XZ_ERRORS[Number(xz[1])] ?? 'error'}, xz-embedded code ${xz[1]}`;
  const lost = inputBytes - offset;
  const rest =
    lost > 0
      ? `the ${lost} compressed bytes from there to the end of the input (${inputBytes} bytes) are not`
      : `the input ends there: whatever followed was cut off`;
  return {
    source: name,
    offset,
    unit: 'byte',
    kind: 'decompress-failed',
    message: `${compression} data ends early or is corrupt at compressed byte ${offset} (${why}); the ${decoded} bytes decompressed before it are read, ${rest}`,
  };
}

/** A stream of decompressed bytes from `src`, and the compressed bytes it had consumed at an error. */
function decoder(
  compression: Exclude<Compression, 'bzip2'>,
  src: Readable,
): { out: Readable; consumed?: () => number } {
  const noop = (): void => {};
  switch (compression) {
    case 'gzip': {
      // zlib reads every member of a multi-member file (as gzip -d does) and knows how far it got.
      const z: Gunzip = createGunzip();
      return { out: pipeline(src, z, noop), consumed: () => z.bytesWritten };
    }
    case 'zstd':
      return { out: pipeline(src, zstdTransform(), noop) };
    case 'xz':
      return {
        out: Readable.fromWeb(new xzDecompress.XzReadableStream(Readable.toWeb(src) as never) as never),
      };
  }
}

/** fzstd's push decoder as a Transform (every frame of a multi-frame file). */
/**
 * The window (bytes of memory) a zstd frame header asks the decoder for (RFC 8878 3.1.1.1), or
 * undefined when `h` is too short to say.
 */
export function zstdWindow(h: Uint8Array): number | undefined {
  if (h.length < 6) return undefined;
  const fhd = h[4];
  const single = (fhd >> 5) & 1;
  if (!single) {
    const exp = 10 + (h[5] >> 3);
    const base = 2 ** exp;
    return base + (base / 8) * (h[5] & 7);
  }
  // A single-segment frame's window is its content size, which follows the header byte.
  const fcsBytes = [1, 2, 4, 8][fhd >> 6];
  const at = 5 + [0, 1, 2, 4][fhd & 3];
  if (h.length < at + fcsBytes) return undefined;
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + h[at + i];
  return fcsBytes === 2 ? size + 256 : size;
}

/** zstd's own default limit for decoding without --memory / --long (ZSTD_WINDOWLOG_LIMIT_DEFAULT 27). */
export const ZSTD_MAX_WINDOW = 2 ** 27;

function zstdTransform(): Transform {
  const d = new ZstdDecompress();
  let first = true;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        // fzstd allocates whatever window a frame header asks for (up to 2 GiB): the first frame's
        // is checked here, as zstd -d does, before anything is allocated.
        const w = first ? zstdWindow(chunk) : undefined;
        first = false;
        if (w !== undefined && w > ZSTD_MAX_WINDOW)
          throw new Error(
            `the frame asks for a ${w}-byte window, more than zstd's default limit of ${ZSTD_MAX_WINDOW}`,
          );
        d.push(chunk);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb) {
      try {
        d.push(new Uint8Array(0), true);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
  // fzstd's output blocks may share its window buffer: copy before queueing them.
  d.ondata = (data) => {
    if (data.length) t.push(Buffer.from(data));
  };
  return t;
}

/** Spool a stream (stdin, a FIFO, or a compressed regular file), sniffing its compression from its start. */
async function spoolStream(
  raw: Readable,
  name: string,
  total: number,
  opts: OpenInputOptions,
): Promise<OpenedInput> {
  const spool = new Spool(opts.tmpDir ?? tmpdir(), opts.spoolLimit ?? defaultSpoolLimit(opts.tmpDir));
  // The iterator is driven by hand so that after a decoder error the rest can still be read and counted.
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let inBytes = 0;
  let head = Buffer.alloc(0);
  let ended = false;
  try {
    while (head.length < SNIFF_BYTES) {
      const r = await it.next();
      if (r.done) {
        ended = true;
        break;
      }
      head = Buffer.concat([head, r.value]);
    }
    const compression = sniffCompression(head);
    async function* counted(): AsyncGenerator<Buffer> {
      inBytes += head.length;
      opts.onProgress?.(inBytes, total);
      if (head.length) yield head;
      while (!ended) {
        const r = await it.next();
        if (r.done) {
          ended = true;
          break;
        }
        inBytes += r.value.length;
        opts.onProgress?.(inBytes, total);
        yield r.value;
      }
    }
    const src = Readable.from(counted(), { objectMode: false });
    if (compression === 'bzip2') {
      // seek-bzip decodes synchronously from a seekable input: spool the compressed bytes, then decode.
      for await (const chunk of src) spool.write(chunk as Buffer);
      spool.finish();
      try {
        return spoolBzip2File(spool.file, name, spool.bytes, opts);
      } finally {
        spool.remove();
      }
    }
    if (!compression) {
      for await (const chunk of src) spool.write(chunk as Buffer);
      return opened(spool, name, undefined, inBytes);
    }
    const { out, consumed } = decoder(compression, src);
    try {
      for await (const chunk of out) spool.write(chunk as Buffer);
    } catch (e) {
      if (e instanceof SpoolLimit) throw e;
      const at = consumed?.() ?? inBytes;
      // Count what was not decoded, so the loss can be said (the input is read to its end).
      while (!ended) {
        const r = await it.next();
        if (r.done) break;
        inBytes += r.value.length;
      }
      return opened(
        spool,
        name,
        compression,
        inBytes,
        decodeProblem(name, compression, at, inBytes, spool.bytes, e),
      );
    }
    return opened(spool, name, compression, inBytes);
  } catch (e) {
    if (e instanceof SpoolLimit) {
      raw.destroy();
      return limitError(spool, name, sniffCompression(head), inBytes);
    }
    spool.remove();
    throw e;
  }
}

/** Decode a bzip2 file (every stream of a multi-stream file, as pbzip2 writes) into a new spool. */
function spoolBzip2File(path: string, name: string, size: number, opts: OpenInputOptions): OpenedInput {
  const spool = new Spool(opts.tmpDir ?? tmpdir(), opts.spoolLimit ?? defaultSpoolLimit(opts.tmpDir));
  const fd = openSync(path, 'r');
  const inBuf = Buffer.allocUnsafe(1 << 20);
  let inStart = 0; // file offset of inBuf[0]
  let inLen = 0;
  let ip = 0; // position in inBuf
  const out = Buffer.allocUnsafe(1 << 20);
  let op = 0;
  const fill = (): boolean => {
    inStart += inLen;
    inLen = readSync(fd, inBuf, 0, inBuf.length, inStart);
    ip = 0;
    opts.onProgress?.(inStart + inLen, size);
    return inLen > 0;
  };
  const pos = (): number => inStart + ip;
  const flush = (): void => {
    spool.write(out.subarray(0, op));
    op = 0;
  };
  try {
    Bunzip.decode(
      {
        readByte() {
          if (ip >= inLen && !fill()) throw new RangeError('bzip2 data ends early');
          return inBuf[ip++];
        },
        read(buf: Uint8Array, off: number, len: number) {
          if (ip >= inLen && !fill()) return -1;
          const n = Math.min(len, inLen - ip);
          buf.set(inBuf.subarray(ip, ip + n), off);
          ip += n;
          return n;
        },
        seek(p: number) {
          inStart = p;
          inLen = 0;
          ip = 0;
        },
        eof() {
          return ip >= inLen && pos() >= size;
        },
      },
      {
        writeByte(b: number) {
          out[op++] = b;
          if (op === out.length) flush();
        },
        flush() {},
      },
      true,
    );
    flush();
    return opened(spool, name, 'bzip2', size);
  } catch (e) {
    if (e instanceof SpoolLimit) return limitError(spool, name, 'bzip2', pos());
    try {
      flush();
    } catch (e2) {
      if (e2 instanceof SpoolLimit) return limitError(spool, name, 'bzip2', pos());
      throw e2;
    }
    return opened(spool, name, 'bzip2', size, decodeProblem(name, 'bzip2', pos(), size, spool.bytes, e));
  } finally {
    closeSync(fd);
  }
}
