// Every CLI command, one module each; a command module exports register(program).
import type { Command } from 'commander';
import * as ingest from './ingest.js';
import * as flows from './flows.js';
import * as summary from './summary.js';
import * as chain from './chain.js';

export const commands: { register(program: Command): void }[] = [ingest, flows, summary, chain];
