// Every CLI command, one module each; a command module exports register(program).
import type { Command } from 'commander';
import * as ingest from './ingest.js';
import * as flows from './flows.js';
import * as summary from './summary.js';
import * as scenario from './scenario.js';
import * as series from './series.js';
import * as surge from './surge.js';
import * as report from './report.js';
import * as estimate from './estimate.js';

export const commands: { register(program: Command): void }[] = [
  ingest,
  flows,
  summary,
  scenario,
  series,
  surge,
  report,
  estimate,
];
