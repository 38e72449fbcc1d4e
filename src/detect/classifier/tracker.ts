/**
 * The behaviour model in a stream (ingest/collect hook): each (client, server, server port)
 * keeps its recent records across batches — a sliding window of the model's `windowMs` — so a
 * miner seen one record per batch is judged on an hour of records, not on one batch. Memory is
 * bounded: records per group, and groups (least recently seen dropped first, counted).
 *
 * Built for a collector's rate (docs/benchmarks.md): groups are dense ids in a keyed hash table
 * (group-table.ts), records live in one pool of typed arrays (record-chains.ts), so a flow costs
 * no string and no object. A group is judged again only when its window moved on by
 * `judgeEveryMs` of stream time or its records grew by half since the last judgment; in between
 * its rows get that judgment's verdict (docs/detection-rules.md, the behaviour section).
 */
import type { FlowBatch } from '../../flow/record.js';
import { clientIsSource, FEATURE_COUNT, featuresOf, RecordLog } from './features.js';
import { GroupTable } from './group-table.js';
import { gated, judge, portsNotJudged, shippedModel, type BehaviourModel, type Verdict } from './model.js';
import { grown, RecordChains } from './record-chains.js';

export interface TrackerLimits {
  maxGroups: number;
  maxRecordsPerGroup: number;
  /**
   * Records over all groups (72 bytes each in the pool, which stops doubling near this bound):
   * 2 M ≈ 145 MB whatever the mix of groups.
   */
  maxRecords: number;
}

export const DEFAULT_TRACKER_LIMITS: TrackerLimits = {
  maxGroups: 100_000,
  maxRecordsPerGroup: 4096,
  maxRecords: 2_000_000,
};

export interface TrackerOptions {
  /**
   * Judge a group again once its latest record end is this far (ms of stream time) past the last
   * judgment, or once its records grew by half; 0 judges every group every batch it is in.
   */
  judgeEveryMs?: number;
  /** The hash key of the group table (default: random per tracker; tests fix it). */
  hashKey?: Uint32Array;
}

export const DEFAULT_JUDGE_EVERY_MS = 30_000;

export interface TrackedVerdict extends Verdict {
  key: string;
  features: Float64Array;
  records: number;
  connections: number;
  spanMs: number;
  windowFromMs: number;
}

const NEVER = NaN;

export class BehaviourTracker {
  private readonly table: GroupTable;
  private readonly chains = new RecordChains();
  /** Groups dropped to stay within `maxGroups` / `maxRecords`. */
  evicted = 0;
  /** Records held over all groups. */
  records = 0;
  /** Windows judged by the model (features and trees), and rows given a cached verdict instead. */
  judged = 0;
  reused = 0;
  private readonly x = new Float64Array(FEATURE_COUNT);
  private readonly log = new RecordLog();
  private readonly judgeEveryMs: number;
  /** Server ports the model does not judge (1), by port. */
  private readonly notJudged: Uint8Array;
  // Per group id: the batch that last touched it, that batch's first and last of its rows, and
  // the last judgment (where its window ended, how many records it held, the verdict if mining).
  private stamp = new Int32Array(64);
  private firstRow = new Int32Array(64);
  private lastRow = new Int32Array(64);
  private judgedAt = new Float64Array(64);
  private judgedCount = new Int32Array(64);
  private verdicts: (TrackedVerdict | null)[] = [];
  /** What the group's rows were last given (its verdict, or null): what seenBefore() gives again. */
  private given: (TrackedVerdict | null)[] = [];
  private epoch = 0;
  /** This batch's groups in first-seen order, and each row's next row of the same group. */
  private touched = new Int32Array(4096);
  private rowNext = new Int32Array(4096);

  constructor(
    readonly model: BehaviourModel = shippedModel(),
    readonly limits: TrackerLimits = DEFAULT_TRACKER_LIMITS,
    opts: TrackerOptions = {},
  ) {
    this.table = new GroupTable(opts.hashKey);
    this.chains.growUntil = limits.maxRecords + 4096;
    this.judgeEveryMs = opts.judgeEveryMs ?? DEFAULT_JUDGE_EVERY_MS;
    this.notJudged = portsNotJudged(model);
  }

  get size(): number {
    return this.table.size;
  }

  private ensureGroup(g: number): void {
    if (g < this.stamp.length) return;
    const n = Math.max(g + 1, this.stamp.length * 2);
    this.stamp = grown(this.stamp, n);
    this.firstRow = grown(this.firstRow, n);
    this.lastRow = grown(this.lastRow, n);
    this.judgedAt = grown(this.judgedAt, n);
    this.judgedCount = grown(this.judgedCount, n);
    this.chains.ensureGroups(n);
  }

  /**
   * Add the batch's TCP rows; for every group the batch touched, judge its window (or reuse the
   * last judgment, see the file's comment). Returns the rows of this batch (not `skip`ped) whose
   * group is called mining, with the group's verdict.
   */
  batch(b: FlowBatch, skip: (row: number) => boolean = () => false): [number, TrackedVerdict][] {
    // An epoch per batch marks the groups it touched (no per-batch set); 0 is "never".
    if (++this.epoch === 0x7fffffff) {
      this.stamp.fill(0);
      this.epoch = 1;
    }
    const epoch = this.epoch;
    if (this.rowNext.length < b.length) {
      this.rowNext = new Int32Array(b.length);
      this.touched = new Int32Array(b.length);
    }
    const table = this.table;
    const chains = this.chains;
    let nTouched = 0;
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== 6) continue;
      // Oriented as features.ts's orient(): the client is the end with the higher port.
      const sp = b.srcPort[i];
      const dp = b.dstPort[i];
      const up = clientIsSource(b, i);
      // A server port the model does not judge (SSH, a VPN, a coin's P2P port, …): not tracked.
      if (this.notJudged[up ? dp : sp] === 1) continue;
      const g = table.idOf(b, i, up, up ? dp : sp);
      if (table.added) {
        this.ensureGroup(g);
        chains.reset(g);
        this.stamp[g] = 0;
        this.judgedAt[g] = NEVER;
        this.verdicts[g] = null;
        this.given[g] = null;
      }
      chains.addRow(g, b, i, up, up ? sp : dp);
      this.records++;
      this.rowNext[i] = -1;
      if (this.stamp[g] !== epoch) {
        this.stamp[g] = epoch;
        this.touched[nTouched++] = g;
        this.firstRow[g] = i;
      } else this.rowNext[this.lastRow[g]] = i;
      this.lastRow[g] = i;
    }
    const win = this.model.windowMs;
    const maxPer = this.limits.maxRecordsPerGroup;
    for (let k = 0; k < nTouched; k++) {
      const g = this.touched[k];
      this.records -= chains.trim(g, chains.lastEnd[g] - win, maxPer);
    }
    // Least recently seen groups go first, until both bounds hold (a group this batch touched
    // included: its rows then get no verdict).
    while (table.size > this.limits.maxGroups || this.records > this.limits.maxRecords) {
      const g = table.oldest();
      this.records -= chains.clear(g);
      table.delete(g);
      this.stamp[g] = 0;
      this.verdicts[g] = null;
      this.given[g] = null;
      this.evicted++;
    }
    const out: [number, TrackedVerdict][] = [];
    for (let k = 0; k < nTouched; k++) {
      const g = this.touched[k];
      if (this.stamp[g] !== epoch) continue; // evicted
      const v = this.verdictOf(g);
      this.given[g] = v;
      if (!v) continue;
      for (let i = this.firstRow[g]; i !== -1; i = this.rowNext[i]) if (!skip(i)) out.push([i, v]);
    }
    return out;
  }

  /**
   * The rows of a batch this tracker has seen before (the live collector stores again an interval
   * the store rolled back), with their group's last verdict when it was mining: the records are not
   * added again (a group's window would count them twice), nothing is judged, nothing moves.
   */
  seenBefore(b: FlowBatch, skip: (row: number) => boolean = () => false): [number, TrackedVerdict][] {
    const out: [number, TrackedVerdict][] = [];
    for (let i = 0; i < b.length; i++) {
      if (b.proto[i] !== 6 || skip(i)) continue;
      const up = clientIsSource(b, i);
      const port = up ? b.dstPort[i] : b.srcPort[i];
      if (this.notJudged[port] === 1) continue;
      const g = this.table.find(b, i, up, port);
      const v = g < 0 ? null : this.given[g];
      if (v) out.push([i, v]);
    }
    return out;
  }

  /** Group `g`'s verdict when mining: judged now, or the last judgment while it still holds. */
  private verdictOf(g: number): TrackedVerdict | null {
    const chains = this.chains;
    // The gate first, on two sums: most groups touched are one short record, which it refuses.
    chains.gate(g);
    if (!gated(this.model, chains.spanMs, chains.packets)) return null;
    const n = chains.count[g];
    const at = this.judgedAt[g];
    if (
      this.judgeEveryMs > 0 &&
      at === at && // judged before (NaN: never)
      chains.lastEnd[g] - at < this.judgeEveryMs &&
      2 * n < 3 * this.judgedCount[g]
    ) {
      this.reused++;
      return this.verdicts[g];
    }
    this.judged++;
    this.judgedAt[g] = chains.lastEnd[g];
    this.judgedCount[g] = n;
    this.verdicts[g] = null;
    // Every record left ended inside the window (a Zeek row may have started hours before).
    const log = chains.copyTo(g, this.log);
    const s = featuresOf(log, -Infinity, Infinity, this.x);
    if (!gated(this.model, s.spanMs, s.packets)) return null;
    const v = judge(this.model, this.x);
    if (!v.mining) return null;
    const tv: TrackedVerdict = {
      ...v,
      key: this.table.keyText(g),
      features: Float64Array.from(this.x),
      ...s,
      windowFromMs: log.firstMs,
    };
    this.verdicts[g] = tv;
    return tv;
  }
}
