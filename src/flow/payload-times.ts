/**
 * When each part of a payload sample arrived. A flow assembled from packets keeps, per direction,
 * the first bytes of payload (`payloadFwd`/`payloadRev`) and beside them a packed list of the
 * segments those bytes came in: one 12-byte entry per segment whose first kept byte lies in the
 * sample, `u32` little-endian offset of that byte in the sample, then `f64` little-endian capture
 * time in ms since the Unix epoch (UTC, sub-millisecond fraction kept). Offsets ascend. The same
 * bytes are the `fwd_times`/`rev_times` BLOBs of `flow_payloads` (docs/data-model.md).
 *
 * The list is capped (one entry per 16 bytes of the payload cap, at least 16, at most 65535): a flow with more
 * segments ends its list with an entry whose time is NaN, meaning "from this offset on, the arrival
 * times were not recorded". Readers never trust the bytes: a length that is not a multiple of 12,
 * offsets that go backwards or times that are not finite give "unknown", never an exception.
 */

export const PAYLOAD_TIME_BYTES = 12;

/**
 * Times past the year 9999 are not capture times (and would print as a six-digit ISO year): a
 * stored time outside [0, MAX_TIME_MS] is unknown.
 */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Entries kept per direction at most, whatever the payload cap. */
export const MAX_PAYLOAD_SEGMENTS = 65535;

/** Entries kept per direction for a payload cap of `payloadCap` bytes. */
export function payloadSegmentCap(payloadCap: number): number {
  return Math.min(MAX_PAYLOAD_SEGMENTS, Math.max(16, Math.floor(payloadCap / 16)));
}

/** Number of whole entries in a packed list (0 for null). */
export function payloadTimeCount(times: Uint8Array | null | undefined): number {
  return times ? Math.floor(times.length / PAYLOAD_TIME_BYTES) : 0;
}

/** Pack (offset, ms) pairs; `ms` NaN marks the untimed rest. For edges and tests. */
export function packPayloadTimes(entries: readonly (readonly [number, number])[]): Buffer {
  const b = Buffer.alloc(entries.length * PAYLOAD_TIME_BYTES);
  entries.forEach(([offset, ms], k) => {
    b.writeUInt32LE(offset >>> 0, k * PAYLOAD_TIME_BYTES);
    b.writeDoubleLE(ms, k * PAYLOAD_TIME_BYTES + 4);
  });
  return b;
}

/** The entries of a packed list as [offset, ms] pairs. */
export function unpackPayloadTimes(times: Uint8Array | null | undefined): [number, number][] {
  const n = payloadTimeCount(times);
  if (!times || n === 0) return [];
  const v = new DataView(times.buffer, times.byteOffset, n * PAYLOAD_TIME_BYTES);
  const out: [number, number][] = [];
  for (let k = 0; k < n; k++)
    out.push([v.getUint32(k * PAYLOAD_TIME_BYTES, true), v.getFloat64(k * PAYLOAD_TIME_BYTES + 4, true)]);
  return out;
}

/**
 * Maps offsets in a payload sample to the capture time of the segment each offset lies in. Asked
 * with ascending offsets (lines in order) it walks the list once; a smaller offset restarts the
 * walk, so any order is answered correctly.
 */
export class PayloadClock {
  private readonly view: DataView | null;
  private readonly n: number;
  /** Index of the entry that answered last (-1 before the first). */
  private k = -1;

  constructor(times: Uint8Array | null | undefined) {
    this.n = payloadTimeCount(times);
    this.view =
      times && this.n > 0 ? new DataView(times.buffer, times.byteOffset, this.n * PAYLOAD_TIME_BYTES) : null;
  }

  get timed(): boolean {
    return this.view !== null;
  }

  private offset(k: number): number {
    return this.view!.getUint32(k * PAYLOAD_TIME_BYTES, true);
  }

  /** Capture time (ms) of the segment the byte at `offset` came in; NaN when not known. */
  at(offset: number): number {
    const v = this.view;
    if (!v) return NaN;
    if (this.k >= 0 && this.offset(this.k) > offset) this.k = -1;
    let k = this.k;
    while (k + 1 < this.n) {
      const next = this.offset(k + 1);
      if (next > offset) break;
      // Offsets must ascend; a list that goes backwards is not trusted past that point.
      if (k >= 0 && next < this.offset(k)) break;
      k++;
    }
    this.k = k;
    if (k < 0) return NaN;
    const ms = v.getFloat64(k * PAYLOAD_TIME_BYTES + 4, true);
    return ms >= 0 && ms <= MAX_TIME_MS ? ms : NaN;
  }
}

/** The hour whose `YYYY-MM-DDTHH:` prefix `isoMicros` made last (times of one flow share it). */
let prefixHour = NaN;
let prefix = '';

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/**
 * ISO-8601 UTC with the precision captures give (microseconds): `2017-01-16T15:57:25.915512Z`.
 * Date#toISOString would cut a packet time to the millisecond. Exact to the microsecond for times
 * before 2255 (microseconds since 1970 fit 2^53); later ones print, less exactly.
 */
export function isoMicros(ms: number): string {
  let micros = Math.round(ms * 1000);
  const hour = Math.floor(micros / 3.6e9);
  if (hour !== prefixHour) {
    prefixHour = hour;
    prefix = new Date(hour * 3.6e6).toISOString().slice(0, 14);
  }
  micros -= hour * 3.6e9;
  const sec = Math.floor(micros / 1e6);
  const frac = String(micros - sec * 1e6).padStart(6, '0');
  return `${prefix}${two(Math.floor(sec / 60))}:${two(sec % 60)}.${frac}Z`;
}
