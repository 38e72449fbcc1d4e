/**
 * npm run fuzz -- TARGET [TARGET...] [--seconds N] [--seed S] [--json] [--keep-going]
 * npm run fuzz -- --list
 * npm run fuzz -- TARGET --replay FILE     (run one saved input; exit 1 if it still breaks)
 *
 * Progress goes to stderr on a TTY only; the summary line per target goes to stdout. Exit 1 when
 * any target broke a promise (its reproducer is under fuzz/findings/).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fuzz, replay, type FuzzReport } from './engine.js';
import { loadCorpus } from './target.js';
import { targetByName, targets } from './targets/index.js';

const USAGE =
  'usage: npm run fuzz -- TARGET... [--seconds N] [--seed S] [--json] [--keep-going] | --list | --all\n';

function usage(message: string): never {
  process.stderr.write(`fuzz: ${message}\n${USAGE}`);
  process.exit(2);
}

function args() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        seconds: { type: 'string', default: '60' },
        seed: { type: 'string' },
        list: { type: 'boolean', default: false },
        all: { type: 'boolean', default: false },
        replay: { type: 'string' },
        json: { type: 'boolean', default: false },
        'keep-going': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return usage((e as Error).message.split('. ')[0]);
  }
}

const { values, positionals } = args();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

if (values.list) {
  for (const t of targets) {
    process.stdout.write(`${t.name.padEnd(14)} ${t.description} (${loadCorpus(t.name).length} seeds)\n`);
    for (const inv of t.invariants) process.stdout.write(`${''.padEnd(14)}   - ${inv}\n`);
  }
  process.exit(0);
}

const names = values.all ? targets.map((t) => t.name) : positionals;
if (names.length === 0) usage('name a target (see --list)');
const chosen = names.map((n) => targetByName(n) ?? usage(`no target '${n}' (see --list)`));
const seconds = Number(values.seconds);
if (!(seconds > 0)) usage(`--seconds must be a positive number, got ${values.seconds}`);
const seed = values.seed === undefined ? undefined : Number(values.seed);
if (seed !== undefined && !Number.isInteger(seed)) usage(`--seed must be an integer, got ${values.seed}`);

if (values.replay) {
  if (chosen.length !== 1) usage('--replay takes exactly one target');
  const e = await replay(chosen[0], readFileSync(values.replay));
  if (e === null) {
    process.stdout.write(`${chosen[0].name}: ${values.replay}: no promise broken\n`);
    process.exit(0);
  }
  process.stdout.write(
    `${chosen[0].name}: ${values.replay}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
}

const tty = process.stderr.isTTY;
let failed = false;
for (const t of chosen) {
  const report: FuzzReport = await fuzz(t, {
    seconds,
    seed,
    keepGoing: values['keep-going'],
    onProgress: tty
      ? (n, ms) => process.stderr.write(`\r${t.name}: ${n} executions, ${(ms / 1000).toFixed(0)} s`)
      : undefined,
  });
  if (tty) process.stderr.write('\r\x1b[K');
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const outcomes = Object.entries(report.outcomes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stdout.write(
      `${t.name}: ${report.executions} executions in ${report.seconds.toFixed(1)} s from ${report.seeds} seeds ` +
        `(fast-check seed ${report.firstSeed}; ${outcomes || 'none'}; largest input ${report.maxInputBytes} bytes)` +
        (report.finding
          ? `\n  BROKEN: ${report.finding.message}\n  reproducer: ${report.finding.path}`
          : '') +
        '\n',
    );
  }
  if (report.finding) failed = true;
}
process.exit(failed ? 1 : 0);
