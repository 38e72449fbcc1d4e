#!/usr/bin/env node
// Exit codes, the same for every command: 0 done, 1 found (`screen`: an address is listed), 2 a
// usage or input error (commander's own usage errors too, which it would end with 1).
import { Command, CommanderError } from 'commander';
import { addClusterOption } from './cluster-option.js';
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
  .version('0.1.0')
  .exitOverride();
for (const c of await commandsFor(process.argv.slice(2))) c.register(program);
addClusterOption(program);
// Subcommands are made by each module's register(): they take the override the same way.
const overrideAll = (c: Command): void => {
  c.exitOverride();
  c.commands.forEach(overrideAll);
};
overrideAll(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // Help and --version end with 0 (commander printed them); a usage error was printed too.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
    return;
  }
  process.stderr.write(`coinradar: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});
