// Every CLI command, one module each; a command module exports register(program).
import type { Command } from 'commander';
import * as demo from './demo.js';
import * as ingest from './ingest.js';
import * as collect from './collect.js';
import * as flows from './flows.js';
import * as summary from './summary.js';
import * as geo from './geo.js';
import * as detect from './detect.js';
import * as detections from './detections.js';
import * as artifacts from './artifacts.js';
import * as sanctions from './sanctions.js';
import * as screen from './screen.js';
import * as serve from './serve.js';
import * as apikey from './apikey.js';
import * as scenario from './scenario.js';
import * as series from './series.js';
import * as surge from './surge.js';
import * as hosts from './hosts.js';
import * as report from './report.js';
import * as estimate from './estimate.js';
import * as chain from './chain.js';

export const commands: { register(program: Command): void }[] = [
  demo,
  ingest,
  collect,
  flows,
  summary,
  geo,
  detect,
  detections,
  artifacts,
  sanctions,
  screen,
  serve,
  apikey,
  scenario,
  series,
  surge,
  hosts,
  report,
  estimate,
  chain,
];
