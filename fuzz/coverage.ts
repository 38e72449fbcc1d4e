/**
 * Line coverage of the parsers from V8's own block coverage, since fast-check reports none:
 *   NODE_V8_COVERAGE=DIR npm run fuzz -- TARGET --seconds N
 *   node --import tsx fuzz/coverage.ts DIR src/chain/block.ts src/chain/blkfile.ts ...
 * A source line counts when the TypeScript source map maps generated code to it; it is covered
 * when some of that code ran (the innermost V8 range around it has a non-zero count). This is the
 * approximation c8 makes, without its dependencies.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface ScriptCoverage {
  url: string;
  functions: { ranges: Range[] }[];
}
interface CoverageFile {
  result: ScriptCoverage[];
  'source-map-cache'?: Record<string, { lineLengths: number[]; data: { mappings: string } }>;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Source-map mappings as [generated line, generated column, original line] (single source). */
function decodeMappings(mappings: string): [number, number, number][] {
  const out: [number, number, number][] = [];
  const state = [0, 0, 0, 0];
  mappings.split(';').forEach((line, genLine) => {
    state[0] = 0;
    for (const seg of line.split(',')) {
      if (!seg) continue;
      const fields: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const d = B64.indexOf(ch);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          fields.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      state[0] += fields[0];
      if (fields.length >= 4) {
        state[1] += fields[1];
        state[2] += fields[2];
        state[3] += fields[3];
        out.push([genLine, state[0], state[2]]);
      }
    }
  });
  return out;
}

/** Covered and countable source lines of `file` over every coverage file in `dir`. */
export function lineCoverage(dir: string, file: string): { covered: Set<number>; lines: Set<number> } {
  const url = pathToFileURL(resolve(file)).href;
  const covered = new Set<number>();
  const lines = new Set<number>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
    const cov = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CoverageFile;
    const script = cov.result.find((s) => s.url === url);
    const map = cov['source-map-cache']?.[url];
    if (!script || !map) continue;
    const lineStart: number[] = [];
    let off = 0;
    for (const len of map.lineLengths) {
      lineStart.push(off);
      off += len + 1;
    }
    const ranges = script.functions.flatMap((fn) => fn.ranges);
    for (const [genLine, genCol, origLine] of decodeMappings(map.data.mappings)) {
      const at = lineStart[genLine] + genCol;
      let best: Range | null = null;
      for (const r of ranges)
        if (
          r.startOffset <= at &&
          at < r.endOffset &&
          (!best || r.endOffset - r.startOffset < best.endOffset - best.startOffset)
        )
          best = r;
      lines.add(origLine);
      if (best && best.count > 0) covered.add(origLine);
    }
  }
  return { covered, lines };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, ...files] = process.argv.slice(2);
  let c = 0;
  let n = 0;
  for (const file of files) {
    const r = lineCoverage(dir, file);
    c += r.covered.size;
    n += r.lines.size;
    const pct = r.lines.size ? ((100 * r.covered.size) / r.lines.size).toFixed(1) : '-';
    process.stdout.write(`${file}: ${r.covered.size}/${r.lines.size} lines (${pct} %)\n`);
  }
  if (files.length > 1)
    process.stdout.write(`all: ${c}/${n} lines (${n ? ((100 * c) / n).toFixed(1) : '-'} %)\n`);
}
