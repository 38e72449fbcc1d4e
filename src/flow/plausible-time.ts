/**
 * Flow times that cannot be right: before 1990 (a device with no clock writes epoch 0) or more than
 * a day in the future. Such flows are kept — their bytes can still carry evidence — but they are a
 * counted problem with the location of the first one, and the store's time range (series, report
 * periods) leaves them out, so one bad capture does not stretch a period to 1970.
 */
import type { Diagnostics, InputProblem } from './diagnostics.js';
import type { FlowBatch } from './record.js';

/** The largest |time| a JS Date (and the store's epoch_ms views) can hold, in ms: readers refuse beyond it. */
export const MAX_DATE_MS = 8.64e15;

/** 1990-01-01T00:00:00Z: no flow telemetry source this project reads predates it. */
export const EARLIEST_PLAUSIBLE_MS = Date.UTC(1990, 0, 1);
/** How far past the wall clock a time may be before it is implausible (clock skew, time zones). */
export const FUTURE_SLACK_MS = 86_400_000;

export function latestPlausibleMs(nowMs = Date.now()): number {
  return nowMs + FUTURE_SLACK_MS;
}

/**
 * Counts one source's implausible flow times as they stream by; reports one problem per source
 * (at the first such flow, with how many followed) when the source ends.
 */
export class PlausibleTimeCheck {
  private count = 0;
  private firstPosition = 0;
  private firstMs = 0;
  private readonly latest: number;

  constructor(
    private readonly source: string,
    private readonly unit: InputProblem['unit'],
    nowMs = Date.now(),
  ) {
    this.latest = latestPlausibleMs(nowMs);
  }

  /** Look at a batch's start and end times. */
  check(b: FlowBatch): void {
    const first = b.firstMs;
    const last = b.lastMs;
    const lo = EARLIEST_PLAUSIBLE_MS;
    const hi = this.latest;
    for (let i = 0; i < b.length; i++) {
      const f = first[i];
      if (f >= lo && f <= hi && last[i] <= hi) continue;
      if (this.count === 0) {
        this.firstPosition = b.position[i];
        this.firstMs = f;
      }
      this.count++;
    }
  }

  get implausible(): number {
    return this.count;
  }

  /** Count and describe what was seen (nothing when every time was plausible). */
  report(d: Diagnostics): void {
    if (this.count === 0) return;
    d.add('flows.implausible-time', this.count);
    const when =
      Math.abs(this.firstMs) <= MAX_DATE_MS ? new Date(this.firstMs).toISOString() : `${this.firstMs} ms`;
    d.problem({
      source: this.source,
      offset: this.firstPosition,
      unit: this.unit,
      kind: 'implausible-time',
      message:
        `${this.count} flow(s) start before 1990 or more than a day in the future (the first at ${when}); ` +
        'kept, but left out of time ranges (series, surge, report periods)',
    });
  }
}

/** Where a file reader's `position` column points: a line for text formats, else a byte offset. */
export function positionUnit(kind: string): InputProblem['unit'] {
  return kind === 'nfdump-csv' || kind.startsWith('zeek') ? 'line' : 'byte';
}
