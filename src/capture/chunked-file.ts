/**
 * A file read forward in large chunks into one reusable Buffer. Readers walk records in
 * `buf[start, end)` synchronously and call `fill(need)` only when a record straddles the end of
 * the chunk, so there is one await per chunk, not per packet.
 */
import { open, type FileHandle } from 'node:fs/promises';

export const CHUNK_BYTES = 4 << 20;

export class ChunkedFile {
  buf: Buffer;
  /** First unconsumed byte and end of valid data in `buf`. */
  start = 0;
  end = 0;
  /** File offset of `buf[0]`. */
  base = 0;
  eof = false;

  private constructor(
    private readonly fh: FileHandle,
    chunk: number,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  static async open(path: string, chunk = CHUNK_BYTES): Promise<ChunkedFile> {
    return new ChunkedFile(await open(path, 'r'), chunk);
  }

  /** File offset of `buf[i]`. */
  offsetOf(i: number): number {
    return this.base + i;
  }

  get available(): number {
    return this.end - this.start;
  }

  /**
   * Make at least `need` bytes available from `start` (moving them to the front of the buffer),
   * unless the file ends first. `need` must already be capped by the caller: it comes from
   * lengths in the file, which are not trusted.
   */
  async fill(need: number): Promise<void> {
    if (this.start > 0) {
      this.buf.copy(this.buf, 0, this.start, this.end);
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
    }
    // Read the whole free space each time (few large reads), until the need is met or the file ends.
    while (!this.eof && this.end < this.buf.length) {
      const { bytesRead } = await this.fh.read(
        this.buf,
        this.end,
        this.buf.length - this.end,
        this.base + this.end,
      );
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
      if (this.end >= need) break;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
