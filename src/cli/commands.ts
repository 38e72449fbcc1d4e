// Every CLI command, one module each; a command module exports register(program).
import type { Command } from 'commander';
import * as ingest from './ingest.js';
import * as flows from './flows.js';
import * as summary from './summary.js';
import * as sanctions from './sanctions.js';
import * as screen from './screen.js';
import * as serve from './serve.js';
import * as apikey from './apikey.js';

export const commands: { register(program: Command): void }[] = [ingest, flows, summary];
commands.push(sanctions, screen, serve, apikey);
