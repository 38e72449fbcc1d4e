/**
 * A one-line progress display on a terminal: a bar and percentage when the total is known, the rate
 * and the time left; silent when stderr is not a TTY (or under CI).
 */
export class Progress {
  private last = 0;
  private readonly tty: boolean;
  private shown = false;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly total = 0,
    stream: NodeJS.WriteStream = process.stderr,
    private readonly out: NodeJS.WriteStream = stream,
    /** How amounts of done work are written in the rate ("12.3 MB/s" for bytes). */
    private readonly unit: 'bytes' | 'items' = 'items',
  ) {
    this.tty = Boolean(stream.isTTY) && !process.env.CI;
  }

  /** Progress over bytes (a file's size): rate in MB/s. */
  static bytes(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
    return new Progress(label, total, stream, stream, 'bytes');
  }

  update(done: number, extra = ''): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    this.shown = true;
    this.out.write(
      `\r${this.label} ${this.line(done, now)}${extra}`.slice(0, (this.out.columns || 120) - 1).padEnd(20) +
        '\x1b[K',
    );
  }

  /** Bar, percentage, rate and time left for `done` units at `now` (exposed for tests). */
  line(done: number, now = Date.now()): string {
    const width = 30;
    let bar = '';
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    if (this.total > 0) {
      const frac = Math.min(1, done / this.total);
      const fill = Math.round(frac * width);
      bar = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% `;
    }
    if (secs >= 1 && rate > 0) {
      bar +=
        this.unit === 'bytes'
          ? `${humanBytes(rate)}/s `
          : `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)}/s `;
      if (this.total > done) bar += `ETA ${humanDuration((this.total - done) / rate)} `;
    }
    return bar;
  }

  done(message = ''): void {
    if (!this.tty) return;
    if (this.shown || message) this.out.write(`\r\x1b[K${message}${message ? '\n' : ''}`);
  }
}

/** 42 s, 3 min 5 s, 2 h 10 min. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function humanBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
