/** A one-line progress display on a terminal; silent when stderr is not a TTY. */
export class Progress {
  private last = 0;
  private readonly tty: boolean;
  private shown = false;

  constructor(
    private readonly label: string,
    private readonly total = 0,
    stream: NodeJS.WriteStream = process.stderr,
    private readonly out: NodeJS.WriteStream = stream,
  ) {
    this.tty = Boolean(stream.isTTY) && !process.env.CI;
  }

  update(done: number, extra = ''): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    this.shown = true;
    const width = 30;
    let bar = '';
    if (this.total > 0) {
      const frac = Math.min(1, done / this.total);
      const fill = Math.round(frac * width);
      bar = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% `;
    }
    this.out.write(
      `\r${this.label} ${bar}${extra}`.slice(0, (this.out.columns || 120) - 1).padEnd(20) + '\x1b[K',
    );
  }

  done(message = ''): void {
    if (!this.tty) return;
    if (this.shown || message) this.out.write(`\r\x1b[K${message}${message ? '\n' : ''}`);
  }
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
