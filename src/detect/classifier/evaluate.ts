/**
 * The shipped flow-behaviour model scored on captures a user brings (`coinradar evaluate`), each
 * read in the telemetry forms the model must work on: the capture's own flows, cut every minute,
 * one row per connection as Zeek writes it, NetFlow v5 and bidirectional IPFIX from a real exporter
 * (softflowd → nfcapd → nfdump), and sampled NetFlow 1:10 and 1:100. Windows are labelled as the
 * training data's are: a client–server–port with a Stratum or getwork flow at payload confidence is
 * a miner; the features never read payload. The figures are the issue's targets, counted as
 * cross-validation counts them (train.ts), so a held-out set scores the way the docs' figures read.
 */
import { readdirSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename, join } from 'node:path';
import { detectFormat } from '../../flow/formats.js';
import { readHead } from '../../flow/ingest.js';
import type { FlowBatch } from '../../flow/record.js';
import {
  CUT_60S_VARIANT,
  exportedDirect,
  haveNetflowTools,
  minerKeys,
  netflowOf,
  NETFLOW_VARIANTS,
  readBatches,
  samplesOf,
  ZEEK_VARIANT,
} from './dataset.js';
import { gated, judge, judgesPort, shippedModel, type BehaviourModel } from './model.js';
import { serverPortOf } from './features.js';
import { wilson } from './train.js';

export interface EvaluationForm {
  name: string;
  describe: string;
  /** Needs softflowd, nfcapd and nfdump (Debian). */
  netflow: boolean;
  read(capture: string): Promise<FlowBatch[]>;
}

const V5 = NETFLOW_VARIANTS.find((v) => v.name === 'netflow-v5')!;
const sampled = (n: number): EvaluationForm => ({
  name: `netflow-v5-1:${n}`,
  describe: `softflowd ${V5.args.join(' ')} -s ${n} (1 packet in ${n}) → coinradar's NetFlow decoder, as \`coinradar collect\` receives it: the records say their rate`,
  netflow: true,
  read: (p) => exportedDirect(p, [...V5.args, '-s', String(n)]),
});

export const EVALUATION_FORMS: EvaluationForm[] = [
  {
    name: 'pcap',
    describe: "the capture's flows (idle 60 s, cut every 5 min, as `coinradar ingest`)",
    netflow: false,
    read: (p) => readBatches(p, 0),
  },
  {
    name: CUT_60S_VARIANT.name,
    describe: 'the same, cut every 60 s (an exporter with a 60-s active timeout)',
    netflow: false,
    read: (p) => readBatches(p, 0, CUT_60S_VARIANT.activeTimeoutMs),
  },
  {
    name: ZEEK_VARIANT.name,
    describe: 'one row per connection, as Zeek conn.log: no active timeout, a TCP connection idle 5 min ends',
    netflow: false,
    read: (p) => readBatches(p, 0, ZEEK_VARIANT.activeTimeoutMs, ZEEK_VARIANT.idleTimeoutMs),
  },
  ...NETFLOW_VARIANTS.map((v): EvaluationForm => ({
    name: v.name,
    describe: `softflowd ${v.args.join(' ')} → nfcapd → nfdump CSV`,
    netflow: true,
    read: (p) => netflowOf(p, v.args),
  })),
  sampled(10),
  sampled(100),
  {
    name: 'nfdump-csv-1:10',
    describe:
      'the 1:10 export through nfcapd → nfdump CSV: nfcapd scales the counts by 10 and the CSV has no sampling column, so the records look unsampled (what a user of nfdump gets)',
    netflow: true,
    read: (p) => netflowOf(p, [...V5.args, '-s', '10']),
  },
];

/** The form a flow file that is not a capture is read in: as it is. */
export const AS_READ = 'as-read';

export interface Counts {
  hits: number;
  of: number;
}

export interface FormFigures {
  /**
   * Miner sessions (client–server–port) with ≥ 5 min of traffic in the capture's own flows, found
   * when any of their windows in this form is called mining: the issue's "miner sessions with ≥ 5
   * minutes of shares". The span is the capture's, not the form's (sampling shortens what is seen).
   */
  miners5min: Counts;
  /** Miner windows past the model's gate found. */
  minersGated: Counts;
  /** Ordinary records in windows called mining / every ordinary record (the issue's ≤ 0.5 %). */
  ordinaryRecords: Counts;
  /** Ordinary windows past the gate called mining. */
  ordinaryGated: Counts;
}

export interface WindowVerdict {
  file: string;
  form: string;
  key: string;
  label: 0 | 1;
  spanMinutes: number;
  records: number;
  /** null: below the gate, or a server port the model does not judge. */
  score: number | null;
  mining: boolean;
  why?: 'below-gate' | 'port-not-judged';
}

export interface Evaluation {
  model: string;
  label: 'payload' | 'ordinary';
  /** The --miners list, when one was given. */
  miners?: string;
  files: { path: string; kind: string; minerGroups: number }[];
  /** Files in the folders given that are not a format coinradar reads. */
  ignored: string[];
  forms: { name: string; describe: string }[];
  /** Forms that could not be made, and why (a missing tool, a capture softflowd refuses). */
  skipped: string[];
  figures: Record<string, FormFigures>;
  /** Every form together. */
  total: FormFigures;
  /** Ordinary windows called mining and miner windows past the gate missed. */
  errors: WindowVerdict[];
}

const zero = (): FormFigures => ({
  miners5min: { hits: 0, of: 0 },
  minersGated: { hits: 0, of: 0 },
  ordinaryRecords: { hits: 0, of: 0 },
  ordinaryGated: { hits: 0, of: 0 },
});

/**
 * Capture and flow files under `paths` (folders walked, in name order), and the files in those
 * folders that are neither. A file named itself must be one.
 */
export function inputFiles(paths: string[]): { files: string[]; kinds: string[]; ignored: string[] } {
  const files: string[] = [];
  const kinds: string[] = [];
  const ignored: string[] = [];
  const walk = (p: string, named: boolean) => {
    if (statSync(p).isDirectory()) {
      for (const n of readdirSync(p).sort()) if (!n.startsWith('.')) walk(join(p, n), false);
      return;
    }
    const reader = detectFormat(readHead(p));
    if (reader) {
      files.push(p);
      kinds.push(reader.kind);
    } else if (named) throw new Error(`${p}: not a format coinradar reads`);
    else ignored.push(p);
  };
  for (const p of paths) walk(p, true);
  return { files, kinds, ignored };
}

/** Miners a user names: whole group keys, server endpoints, or servers (any port). */
export interface MinerList {
  source: string;
  keys: Set<string>;
  endpoints: Set<string>;
  servers: Set<string>;
}

/** An address as group keys write it (IPv6 compressed, lower case), or null. */
function canonicalIp(text: string): string | null {
  const t = text.replace(/^\[|\]$/g, '');
  const v = isIP(t);
  if (v === 4) return t;
  if (v === 6) return new URL(`http://[${t}]/`).hostname.slice(1, -1);
  return null;
}

/** `server`, `server:port` or `[v6]:port`, canonical; null when it is not one. */
function endpointOf(text: string): { server: string; port: number | null } | null {
  const ip = canonicalIp(text);
  if (ip) return { server: ip, port: null };
  const m = /^(.*):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) return null;
  const server = canonicalIp(m[1]);
  return server ? { server, port: Number(m[2]) } : null;
}

/**
 * `--miners FILE`: one miner per line, `client -> server:port` (a group, as `coinradar evaluate`
 * prints it), `server:port` (every client of a pool endpoint) or `server` (any port). `#` starts a
 * comment. A line that is none of them is an error naming its line.
 */
export function parseMinerList(text: string, source: string): MinerList {
  const list: MinerList = { source, keys: new Set(), endpoints: new Set(), servers: new Set() };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const arrow = line.split(/\s*->\s*/);
    const bad = () =>
      new Error(`${source}:${i + 1}: not "client -> server:port", "server:port" or "server": ${line}`);
    if (arrow.length === 2) {
      const client = canonicalIp(arrow[0]);
      const ep = endpointOf(arrow[1]);
      if (!client || !ep || ep.port === null) throw bad();
      list.keys.add(`${client} -> ${ep.server}:${ep.port}`);
    } else if (arrow.length === 1) {
      const ep = endpointOf(line);
      if (!ep) throw bad();
      if (ep.port === null) list.servers.add(ep.server);
      else list.endpoints.add(`${ep.server}:${ep.port}`);
    } else throw bad();
  });
  if (list.keys.size + list.endpoints.size + list.servers.size === 0)
    throw new Error(`${source}: no miner in the list`);
  return list;
}

/** Whether the group `key` (`client -> server:port`) is one the list names. */
export function listed(list: MinerList, key: string): boolean {
  if (list.keys.has(key)) return true;
  const endpoint = key.slice(key.indexOf(' -> ') + 4);
  return list.endpoints.has(endpoint) || list.servers.has(endpoint.slice(0, endpoint.lastIndexOf(':')));
}

export async function evaluate(
  paths: string[],
  opts: {
    forms?: string[];
    label?: 'payload' | 'ordinary';
    /** Miners named by the user (parseMinerList): their groups are miners, whatever the payload. */
    miners?: MinerList;
    model?: BehaviourModel;
    onFile?: (done: number, total: number, file: string) => void;
  } = {},
): Promise<Evaluation> {
  const model = opts.model ?? shippedModel();
  const label = opts.label ?? 'payload';
  const wanted = opts.forms ?? EVALUATION_FORMS.map((f) => f.name);
  for (const n of wanted)
    if (!EVALUATION_FORMS.some((f) => f.name === n))
      throw new Error(`no form ${n} (forms: ${EVALUATION_FORMS.map((f) => f.name).join(', ')})`);
  const skipped: string[] = [];
  const missing = haveNetflowTools();
  const forms = EVALUATION_FORMS.filter((f) => wanted.includes(f.name)).filter((f) => {
    if (!f.netflow || missing.length === 0) return true;
    skipped.push(`${f.name}: ${missing.join(', ')} not installed (Debian: softflowd, nfdump)`);
    return false;
  });
  const { files, kinds, ignored } = inputFiles(paths);
  if (files.length === 0) throw new Error(`no capture or flow file in ${paths.join(', ')}`);
  // Said before any work: a flow file without payload cannot be labelled by the payload rules.
  const bare = files.findIndex((_, i) => kinds[i] !== 'pcap' && kinds[i] !== 'pcapng');
  if (bare >= 0 && label === 'payload' && !opts.miners)
    throw new Error(
      `${files[bare]}: a ${kinds[bare]} file carries no payload, so the payload rules cannot label its windows; ` +
        'give --label ordinary if it holds no mining, or --miners with its miners',
    );
  const ev: Evaluation = {
    model: model.version,
    label,
    ...(opts.miners ? { miners: opts.miners.source } : {}),
    files: [],
    ignored,
    forms: forms.map(({ name, describe }) => ({ name, describe })),
    skipped,
    figures: {},
    total: zero(),
    errors: [],
  };
  for (const [n, path] of files.entries()) {
    opts.onFile?.(n, files.length, path);
    const kind = kinds[n];
    const capture = kind === 'pcap' || kind === 'pcapng';
    // The file's own flows (a capture's with payload when the payload rules label it): its miner
    // groups, and each miner session's span there (its windows' spans added up).
    const own = await readBatches(path, capture && label === 'payload' ? 2048 : 0);
    const miners = capture && label === 'payload' ? minerKeys(own) : new Set<string>();
    const spans = new Map<string, number>();
    for (const w of samplesOf(own, { unit: path, family: 'evaluate', variant: 'label' }, () => 0)) {
      if (opts.miners && listed(opts.miners, w.key)) miners.add(w.key);
      if (miners.has(w.key)) spans.set(w.key, (spans.get(w.key) ?? 0) + w.spanMs);
    }
    const sessions5min = [...spans].filter(([, ms]) => ms >= 300_000).map(([k]) => k);
    ev.files.push({ path, kind, minerGroups: miners.size });
    // The pcap form is that read again (payload does not change a window: classifier-cv.test.ts),
    // and so is a flow file read as it is.
    const reads: [string, () => Promise<FlowBatch[]>][] = capture
      ? forms.map((f) => [f.name, f.name === 'pcap' ? async () => own : () => f.read(path)])
      : [[AS_READ, async () => own]];
    for (const [form, read] of reads) {
      let batches: FlowBatch[];
      try {
        batches = await read();
      } catch (e) {
        skipped.push(`${basename(path)} ${form}: ${(e as Error).message}`);
        continue;
      }
      const fig = (ev.figures[form] ??= zero());
      const found = new Set<string>();
      const isMiner = (k: string) => miners.has(k) || (opts.miners !== undefined && listed(opts.miners, k));
      for (const s of samplesOf(batches, { unit: path, family: 'evaluate', variant: form }, (k) =>
        isMiner(k) ? 1 : 0,
      )) {
        const inGate = gated(model, s.spanMs, s.packets);
        const portJudged = judgesPort(model, serverPortOf(s.key));
        const score = inGate && portJudged ? judge(model, s.features).score : null;
        const mining = score !== null && score >= model.threshold;
        const v: WindowVerdict = {
          file: path,
          form,
          key: s.key,
          label: s.label,
          spanMinutes: Math.round(s.spanMs / 6000) / 10,
          records: s.records,
          score: score === null ? null : Math.round(score * 1000) / 1000,
          mining,
        };
        if (!inGate) v.why = 'below-gate';
        else if (!portJudged) v.why = 'port-not-judged';
        for (const f of [fig, ev.total]) {
          if (s.label === 1) {
            if (inGate) add(f.minersGated, mining);
          } else {
            f.ordinaryRecords.of += s.records;
            if (mining) f.ordinaryRecords.hits += s.records;
            if (inGate) add(f.ordinaryGated, mining);
          }
        }
        if (s.label === 1 ? inGate && !mining : mining) ev.errors.push(v);
        if (mining) found.add(s.key);
      }
      for (const f of [fig, ev.total]) for (const k of sessions5min) add(f.miners5min, found.has(k));
    }
  }
  opts.onFile?.(files.length, files.length, '');
  return ev;
}

function add(c: Counts, hit: boolean): void {
  c.of++;
  if (hit) c.hits++;
}

const pct = (c: Counts) => (c.of ? `${((100 * c.hits) / c.of).toFixed(2)} %` : '-');
const ci = (c: Counts) => {
  if (!c.of) return '';
  const [lo, hi] = wilson(c.hits, c.of).map((x) => Math.max(0, 100 * x).toFixed(2));
  return ` [${lo}–${hi}]`;
};
const frac = (c: Counts) => `${c.hits}/${c.of}`;

/** The evaluation as text: a row per form, then each window it got wrong. */
export function evaluationText(ev: Evaluation): string {
  const lines = [
    `model ${ev.model}; ${ev.files.length} files; labels: ${
      ev.label === 'payload'
        ? 'Stratum/getwork at payload confidence = miner'
        : 'every window ordinary (--label ordinary)'
    }${ev.miners ? `, and the miners listed in ${ev.miners}` : ''}`,
    '',
    'form              miner sessions ≥ 5 min  miner windows past the gate  ordinary records called mining (Wilson 95 %)  ordinary windows past the gate',
  ];
  const row = (name: string, f: FormFigures) =>
    `${name.padEnd(17)} ${frac(f.miners5min).padStart(22)}  ${frac(f.minersGated).padStart(27)}  ${`${frac(f.ordinaryRecords)} ${pct(f.ordinaryRecords)}${ci(f.ordinaryRecords)}`.padStart(45)}  ${frac(f.ordinaryGated).padStart(30)}`;
  for (const [name, f] of Object.entries(ev.figures)) lines.push(row(name, f));
  lines.push(row('every form', ev.total));
  lines.push('');
  for (const f of ev.forms) lines.push(`  ${f.name}: ${f.describe}`);
  if (ev.ignored.length)
    lines.push('', `${ev.ignored.length} files in the folders are not flow data: ignored`);
  if (ev.skipped.length) {
    lines.push('', `not made (${ev.skipped.length}):`);
    for (const s of ev.skipped) lines.push(`  ${s}`);
  }
  if (ev.errors.length) {
    lines.push('', 'wrong:');
    for (const e of ev.errors)
      lines.push(
        `  ${e.label ? 'missed miner ' : 'called mining'}  ${basename(e.file)}  ${e.form}  ${e.key}  ${e.spanMinutes} min  ${e.records} records  score ${e.score}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
