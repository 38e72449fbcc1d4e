/**
 * Audit log: one JSON line per screening request (who, when, what, with which list versions),
 * appended to `<db>.audit.jsonl`. Lines are buffered and written in batches (every 100 ms or
 * 1 MiB) so auditing does not cap throughput; batches land in order, and close() writes what is left.
 */
import { promises as fsp } from 'node:fs';

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
  /** The chain index cluster and indirect matches came from: "network@tipHeight, k hops (haircut)". */
  chain?: string;
  status: number;
  /** On a refusal line: refusals left out of the log since the last one written (refusal lines are rate-limited). */
  refusalsNotLogged?: number;
}

export function auditPathFor(dbPath: string): string {
  return `${dbPath}.audit.jsonl`;
}

let isoMs = -1;
let isoText = '';

/** The current time as ISO 8601, formatted once per millisecond (a busy server asks many times per ms). */
export function auditTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

/**
 * The `"key":…,"keyName":…,` part of a line for one caller, serialised once per key (the hot
 * path builds lines from such parts; `record()` would write the same JSON).
 */
export function auditWho(key: string, keyName?: string): string {
  return keyName === undefined
    ? `"key":${JSON.stringify(key)},`
    : `"key":${JSON.stringify(key)},"keyName":${JSON.stringify(keyName)},`;
}

/** Lines are encoded straight into chunks of this size (no join, no second copy at write time). */
const CHUNK = 256 * 1024;

export class AuditLog {
  /** Filled chunks waiting for the next write, in order. */
  private full: Buffer[] = [];
  private chunk: Buffer | null = null;
  private used = 0;
  private lines = 0;
  private bytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private lastIp = '';
  private lastIpJson = '""';
  written = 0;

  constructor(
    readonly path: string,
    private readonly flushMs = 100,
    private readonly maxBuffered = 1 << 20,
  ) {}

  record(e: AuditEntry): void {
    this.push(JSON.stringify(e) + '\n');
  }

  /**
   * One single-address screening, built from pre-serialised parts: the same line `record()`
   * writes for {ts, key, keyName?, ip, route, addresses: [address], matched, lists, status: 200}.
   * `who` comes from auditWho(), `routeJson` and `listsJson` are JSON.stringify(route) and
   * JSON.stringify(lists).
   */
  recordScreen(
    who: string,
    ip: string,
    routeJson: string,
    address: string,
    matched: boolean,
    listsJson: string,
  ): void {
    if (ip !== this.lastIp) {
      this.lastIp = ip;
      this.lastIpJson = JSON.stringify(ip);
    }
    const a = JSON.stringify(address);
    this.push(
      `{"ts":"${auditTime()}",${who}"ip":${this.lastIpJson},"route":${routeJson},"addresses":[${a}],"matched":[${matched ? a : ''}],"lists":${listsJson},"status":200}\n`,
    );
  }

  private push(line: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit, so a line that passes this test fits.
    if (this.chunk === null || this.used + line.length * 3 > this.chunk.length) {
      if (this.chunk !== null && this.used > 0) this.full.push(this.chunk.subarray(0, this.used));
      this.chunk = Buffer.allocUnsafe(Math.max(CHUNK, line.length * 3));
      this.used = 0;
    }
    const n = this.chunk.write(line, this.used, 'utf8');
    this.used += n;
    this.bytes += n;
    this.lines++;
    if (this.bytes >= this.maxBuffered) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Take what is buffered, in order, and start afresh. */
  private take(): { data: Buffer[]; lines: number } | null {
    if (this.lines === 0) return null;
    const data = this.full;
    if (this.chunk !== null && this.used > 0) data.push(this.chunk.subarray(0, this.used));
    const lines = this.lines;
    this.full = [];
    this.chunk = null;
    this.used = 0;
    this.lines = 0;
    this.bytes = 0;
    return { data, lines };
  }

  /**
   * Write buffered lines (serialised: batches land in order). The file is opened for each batch,
   * so a rotated log (renamed away by logrotate) is recreated on the next one.
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.take();
    if (!batch) return this.writing;
    this.writing = this.writing
      .then(() =>
        fsp.appendFile(this.path, batch.data.length === 1 ? batch.data[0] : Buffer.concat(batch.data)),
      )
      .then(() => {
        this.written += batch.lines;
      })
      .catch((e: unknown) => {
        process.stderr.write(`coinradar serve: audit log ${this.path}: ${(e as Error).message}\n`);
      });
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
