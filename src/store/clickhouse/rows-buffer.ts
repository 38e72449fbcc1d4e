/**
 * A growing byte buffer that insert bodies are built in (tsv.ts, rowbinary.ts): rows are written
 * at `pos`, `take()` hands them out and starts over, so one buffer serves every batch.
 */
export class RowsBuffer {
  protected buf: Buffer;
  protected view: DataView;
  protected pos = 0;
  /** Encoded strings seen before (countries, watchlists, exporters repeat). */
  protected readonly cache = new Map<string, Buffer>();

  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(initial);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  get length(): number {
    return this.pos;
  }

  protected room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }

  /** Bytes as they are (already encoded). */
  protected raw(e: Buffer): void {
    this.room(e.length);
    e.copy(this.buf, this.pos);
    this.pos += e.length;
  }

  /** The rows so far (a view; valid until the next write) and start over. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.pos = 0;
    return out;
  }
}
