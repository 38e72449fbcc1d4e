/**
 * Audit log: one JSON line per screening request (who, when, what, with which list versions),
 * appended to `<db>.audit.jsonl`. Lines are buffered and written in batches (every 100 ms or
 * 1 MiB) so auditing does not cap throughput; close() writes what is left.
 */
import { appendFileSync, promises as fsp } from 'node:fs';

export interface AuditEntry {
  ts: string;
  /** API key id, or 'anonymous'. */
  key: string;
  keyName?: string;
  ip: string;
  route: string;
  addresses: string[];
  matched: string[];
  /** List versions the index held: "list@versionId". */
  lists: string[];
  status: number;
}

export function auditPathFor(dbPath: string): string {
  return `${dbPath}.audit.jsonl`;
}

export class AuditLog {
  private buf: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  written = 0;

  constructor(
    readonly path: string,
    private readonly flushMs = 100,
    private readonly maxBuffered = 1 << 20,
  ) {}

  record(e: AuditEntry): void {
    const line = JSON.stringify(e) + '\n';
    this.buf.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBuffered) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Write buffered lines (serialised: batches land in order). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.buf.length === 0) return this.writing;
    const data = this.buf.join('');
    const n = this.buf.length;
    this.buf = [];
    this.bytes = 0;
    this.writing = this.writing
      .then(() => fsp.appendFile(this.path, data))
      .then(() => {
        this.written += n;
      })
      .catch((e: unknown) => {
        process.stderr.write(`coinradar serve: audit log ${this.path}: ${(e as Error).message}\n`);
      });
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  /** Last-resort synchronous write (process exit). */
  flushSync(): void {
    if (this.buf.length) appendFileSync(this.path, this.buf.join(''));
    this.buf = [];
  }
}
