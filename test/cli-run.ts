// Runs coinradar commands in-process (commander with the real registrations), capturing what they
// write to stdout and stderr.
import { Command } from 'commander';
import { commandsFor } from '../src/cli/commands.js';

export async function runCli(args: string[]): Promise<{ out: string; err: string }> {
  const program = new Command().exitOverride();
  for (const c of await commandsFor(args)) c.register(program);
  let out = '';
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    await program.parseAsync(['node', 'coinradar', ...args]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
  return { out, err };
}
