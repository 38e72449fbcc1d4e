#!/usr/bin/env node
import { Command } from 'commander';
import { commandsFor } from './commands.js';

// `coinradar flows | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const program = new Command();
program
  .name('coinradar')
  .description(
    'find cryptocurrency activity in network flows, follow the money on the chain, screen it against sanctions lists',
  )
  .version('0.1.0');
for (const c of await commandsFor(process.argv.slice(2))) c.register(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`coinradar: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
