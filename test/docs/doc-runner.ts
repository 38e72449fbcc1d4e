// Runs the commands a documentation page shows and compares their output with the page.
//
// A page marks what is run, so prose and synopses stay free text:
//   ```console               a block of `$ command` lines, each followed by the output it prints
//   <!-- doctest: setup SHELL -->     run SHELL (must exit 0, output not compared) before the next block
//   <!-- doctest: skip REASON -->     do not run the next block; each of its commands is reported with REASON
//   <!-- doctest: instead SHELL -->   run SHELL in place of the next block's first command (the page shows
//                                     what a user types, e.g. `npm run demo`; SHELL is what it runs once built)
//   <!-- doctest: long REASON -->     the next block takes long; left out when COINRADAR_DOCTEST_SKIP_LONG=1
//   <!-- doctest: mask REGEX -->      page-wide: text matching REGEX is volatile (masked on both sides)
//   <!-- doctest: needs PROGRAM -->   the next block needs PROGRAM on PATH; without it the block is skipped, saying so
//   <!-- doctest: port N... -->       page-wide: each port N the page shows is a free loopback port P chosen
//                                     per run (commands get P, $DOCTEST_PORT_N holds it; output shows N)
//   <!-- doctest: teardown SHELL -->  page-wide: run SHELL when the page ends, whatever happened
// Commands and directives see $REPO (the checkout); the page's temp dir links test/ and examples/.
// Expected output: a line `...` stands for any number of lines, `…` inside a line for any text.
// Commands run in bash (stdout and stderr merged, in order) in one temp dir per page, in page order,
// so a page's ingest feeds its later queries. The exit status is not compared: a failing command
// prints why, and the page shows that text.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface DocCommand {
  /** 1-based line of the `$` in the page. */
  line: number;
  shell: string;
  expected: string[];
  /** 1-based page line of expected[0] (for messages). */
  expectedLine: number;
  /** The block's indentation in the page (a fence inside a list item). */
  indent: string;
}

export interface DocBlock {
  line: number;
  commands: DocCommand[];
  setup: string[];
  skip?: string;
  long?: string;
  instead?: string;
  needs?: string[];
}

export interface DocPage {
  file: string;
  blocks: DocBlock[];
  masks: RegExp[];
  ports: number[];
  teardown: string[];
  /** Problems of the page's own markup, with their location. */
  problems: string[];
}

const DIRECTIVE = /^<!--\s*doctest:\s*(\w+)\s*([\s\S]*?)\s*-->$/;
const FENCE = /^(\s*)```(\S*)\s*$/;

export function parsePage(file: string, text: string): DocPage {
  const lines = text.split('\n');
  const page: DocPage = { file, blocks: [], masks: [], ports: [], teardown: [], problems: [] };
  let pending: Omit<DocBlock, 'line' | 'commands'> = { setup: [] };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trimStart().startsWith('<!-- doctest:')) {
      // A directive may span lines up to its -->.
      let text = raw.trim();
      const start = i;
      while (!text.endsWith('-->') && i + 1 < lines.length) text += '\n' + lines[++i]!.trim();
      const m = DIRECTIVE.exec(text);
      if (!m) {
        page.problems.push(`${file}:${start + 1}: unreadable doctest directive`);
        continue;
      }
      const [, kind, arg] = m as unknown as [string, string, string];
      if (kind === 'setup') pending.setup.push(arg);
      else if (kind === 'skip') pending.skip = arg || '(no reason given)';
      else if (kind === 'long') pending.long = arg || 'long';
      else if (kind === 'instead') pending.instead = arg;
      else if (kind === 'needs') (pending.needs ??= []).push(...arg.split(/\s+/));
      else if (kind === 'teardown') page.teardown.push(arg);
      else if (kind === 'port') page.ports.push(...arg.split(/\s+/).map(Number));
      else if (kind === 'mask') {
        try {
          page.masks.push(new RegExp(arg, 'g'));
        } catch (e) {
          page.problems.push(`${file}:${start + 1}: mask: ${(e as Error).message}`);
        }
      } else page.problems.push(`${file}:${start + 1}: unknown doctest directive "${kind}"`);
      continue;
    }
    const f = FENCE.exec(raw);
    if (!f) continue;
    const indent = f[1]!.length;
    const lang = f[2]!;
    const body: { text: string; line: number }[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) {
      body.push({
        text: lines[j]!.slice(Math.min(indent, lines[j]!.length - lines[j]!.trimStart().length)),
        line: j + 1,
      });
    }
    if (lang === 'console') {
      page.blocks.push({ line: i + 1, commands: commandsOf(body, f[1]!), ...pending });
      pending = { setup: [] };
    } else {
      // A `$ coinradar` line outside a console block would escape the test: say so.
      for (const b of body)
        if (/^\$ (coinradar|npm run demo)\b/.test(b.text))
          page.problems.push(`${file}:${b.line}: a command outside a \`\`\`console block is not tested`);
    }
    i = j;
  }
  if (pending.setup.length || pending.skip || pending.long || pending.instead || pending.needs)
    page.problems.push(`${file}: a doctest directive at the end of the page has no console block after it`);
  return page;
}

function commandsOf(body: { text: string; line: number }[], indent: string): DocCommand[] {
  const out: DocCommand[] = [];
  for (let k = 0; k < body.length; k++) {
    const { text, line } = body[k]!;
    if (!text.startsWith('$ ')) {
      if (out.length === 0) {
        if (text.trim() !== '') out.push({ line, shell: '', expected: [text], expectedLine: line, indent });
      } else out[out.length - 1]!.expected.push(text);
      continue;
    }
    let shell = text.slice(2);
    while (shell.endsWith('\\') && k + 1 < body.length) shell += '\n' + body[++k]!.text;
    out.push({ line, shell, expected: [], expectedLine: body[k + 1]?.line ?? line + 1, indent });
  }
  for (const c of out)
    while (c.expected.length && c.expected[c.expected.length - 1]!.trim() === '') c.expected.pop();
  return out;
}

// Figures that change from run to run or machine to machine, masked on every page. Everything
// else a page shows is compared as written.
const COMMON_MASKS: RegExp[] = [
  // durations: "in 7.2 s", "(1.6 s)", "0.3 s", "36 s", "2000 ms"
  /\b\d+(\.\d+)? (s|ms)\b/g,
  // the kernel's receive buffer (net.core.rmem_max of the machine)
  /receive buffer \d+ bytes|at \d+ of \d+ bytes requested/g,
];

export function mask(line: string, masks: RegExp[]): string {
  let s = line;
  for (const m of [...COMMON_MASKS, ...masks]) s = s.replace(m, '<masked>');
  // A masked figure may be wider or narrower than the page's: table padding around it is not compared.
  if (s.includes('<masked>')) s = s.replace(/\s+/g, ' ');
  return s.trimEnd();
}

function lineMatches(expected: string, actual: string): boolean {
  if (!expected.includes('…')) return expected === actual;
  const re = expected
    .split('…')
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${re}$`, 's').test(actual);
}

/** Where expected and actual first part, or null when they match. `...` lines match any lines. */
export function compare(
  expected: string[],
  actual: string[],
): { expectedIndex: number; actualIndex: number } | null {
  // Longest progress made, for the message when nothing matches.
  let best = { expectedIndex: 0, actualIndex: 0 };
  const memo = new Set<string>();
  const go = (e: number, a: number): boolean => {
    const key = `${e},${a}`;
    if (memo.has(key)) return false;
    memo.add(key);
    if (e > best.expectedIndex || (e === best.expectedIndex && a > best.actualIndex))
      best = { expectedIndex: e, actualIndex: a };
    if (e === expected.length) return a === actual.length;
    const x = expected[e]!;
    if (x.trim() === '...' || x.trim() === '…') {
      for (let k = a; k <= actual.length; k++) if (go(e + 1, k)) return true;
      return false;
    }
    return a < actual.length && lineMatches(x, actual[a]!) && go(e + 1, a + 1);
  };
  return go(0, 0) ? null : best;
}

export interface RunOptions {
  repo: string;
  /** Called with each command skipped and why. */
  onSkip: (where: string, command: string, reason: string) => void;
  onCommand?: (where: string, command: string, ms: number) => void;
  skipLong: boolean;
  timeoutMs: number;
}

/** Page lines to replace with a command's real output (for COINRADAR_DOCTEST_UPDATE=1). */
export interface DocUpdate {
  start: number;
  count: number;
  lines: string[];
}

/** Runs a page; returns its failures, each with the page location. */
export function runPage(page: DocPage, opt: RunOptions, updates: DocUpdate[] = []): string[] {
  const failures = [...page.problems];
  const dir = mkdtempSync(join(tmpdir(), 'cr-doctest-'));
  try {
    // The page's paths are written from a checkout: the shipped files are reachable the same way.
    for (const name of ['test', 'examples']) symlinkSync(join(opt.repo, name), join(dir, name));
    const bin = join(dir, '.bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'coinradar'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(opt.repo, 'dist/cli/main.js')}" "$@"\n`,
      {
        mode: 0o755,
      },
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      TZ: 'UTC',
      CI: 'true',
      NO_COLOR: '1',
      REPO: opt.repo,
    };
    // The page's ports, each mapped to a free one for this run (two runs, or a test, may hold it).
    const ports = page.ports.map((shown) => ({ shown, real: freePort() }));
    for (const p of ports) env[`DOCTEST_PORT_${p.shown}`] = String(p.real);
    const swap = (s: string, from: number, to: number) =>
      s.replace(new RegExp(`:${from}(?!\\d)`, 'g'), `:${to}`);
    const toReal = (s: string) => ports.reduce((t, p) => swap(t, p.shown, p.real), s);
    const toShown = (s: string) => ports.reduce((t, p) => swap(t, p.real, p.shown), s);
    delete env.COINRADAR_DB;
    delete env.NODE_OPTIONS; // the test runner's own loader flags are not the user's
    const sh = (script: string) =>
      spawnSync('bash', ['-o', 'pipefail', '-c', `exec 2>&1\n${script}`], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: opt.timeoutMs,
        maxBuffer: 64 << 20,
      });
    for (const block of page.blocks) {
      const where = `${page.file}:${block.line}`;
      const missing = (block.needs ?? []).filter((p) => sh(`command -v ${p}`).status !== 0);
      if (block.skip !== undefined || (block.long !== undefined && opt.skipLong) || missing.length) {
        const reason =
          block.skip ??
          (missing.length
            ? `${missing.join(', ')} not installed (scripts/install-test-deps.sh installs it)`
            : `long (${block.long}); COINRADAR_DOCTEST_SKIP_LONG=1`);
        for (const c of block.commands) if (c.shell) opt.onSkip(`${page.file}:${c.line}`, c.shell, reason);
        continue;
      }
      for (const s of block.setup) {
        const r = sh(toReal(s));
        if (r.status !== 0) {
          failures.push(`${where}: setup \`${s}\` failed (exit ${r.status ?? r.signal}):\n${r.stdout}`);
          return failures;
        }
      }
      let first = true;
      for (const c of block.commands) {
        if (!c.shell) {
          failures.push(`${page.file}:${c.line}: output before any \`$ command\` in a console block`);
          continue;
        }
        const shell = toReal(first && block.instead !== undefined ? block.instead : c.shell);
        first = false;
        const t0 = Date.now();
        const r = sh(shell);
        opt.onCommand?.(`${page.file}:${c.line}`, shell, Date.now() - t0);
        if (r.error) {
          failures.push(`${page.file}:${c.line}: \`${shell}\`: ${r.error.message}`);
          continue;
        }
        const actual = toShown((r.stdout ?? '').split(dir).join('<tmp>')).replace(/\n+$/, '');
        const actualLines = actual === '' ? [] : actual.split('\n').map((l) => mask(l, page.masks));
        const expectedLines = c.expected.map((l) => mask(l, page.masks));
        const d = compare(expectedLines, actualLines);
        if (d) {
          failures.push(describe(page.file, c, shell, d, expectedLines, actualLines));
          const real = actual === '' ? [] : actual.split('\n');
          updates.push({
            start: c.expectedLine,
            count: c.expected.length,
            lines: real.map((l) => (l ? c.indent + l : l)),
          });
        }
      }
    }
  } finally {
    for (const s of page.teardown) {
      const r = spawnSync('bash', ['-c', s], {
        cwd: dir,
        env: { ...process.env, REPO: opt.repo },
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (r.status !== 0) failures.push(`${page.file}: teardown \`${s}\` failed: ${r.stdout}${r.stderr}`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return failures;
}

/** A loopback TCP port nobody listens on now (asked of the kernel in a child: this code is synchronous). */
function freePort(): number {
  const js =
    "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  return Number(execFileSync(process.execPath, ['-e', js], { encoding: 'utf8' }));
}

function describe(
  file: string,
  c: DocCommand,
  shell: string,
  d: { expectedIndex: number; actualIndex: number },
  expected: string[],
  actual: string[],
): string {
  const show = (l: string | undefined) => (l === undefined ? '(end of output)' : JSON.stringify(l));
  const head =
    actual.slice(0, 60).join('\n') + (actual.length > 60 ? `\n… ${actual.length - 60} more lines` : '');
  return (
    `${file}:${c.expectedLine + d.expectedIndex}: output of \`${shell}\` (page line ${c.line}) differs from the page\n` +
    `  page:   ${show(expected[d.expectedIndex])}\n` +
    `  actual: ${show(actual[d.actualIndex])}\n` +
    `whole output (masked):\n${head}`
  );
}

/** Writes the real output over the page's (a maintainer's aid: review the diff, restore elisions). */
export function applyUpdates(repo: string, file: string, updates: DocUpdate[]): void {
  const path = resolve(repo, file);
  const lines = readFileSync(path, 'utf8').split('\n');
  for (const u of [...updates].sort((a, b) => b.start - a.start)) {
    lines.splice(u.start - 1, u.count, ...u.lines);
  }
  writeFileSync(path, lines.join('\n'));
}

export function loadPage(repo: string, file: string): DocPage {
  return parsePage(file, readFileSync(resolve(repo, file), 'utf8'));
}
