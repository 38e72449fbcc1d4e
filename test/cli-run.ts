// Runs coinradar commands in-process (commander with the real registrations), capturing what they
// write to stdout and stderr.
import { Command } from 'commander';
import { addClusterOption } from '../src/cli/cluster-option.js';
import { commandsFor } from '../src/cli/commands.js';

export async function runCli(args: string[]): Promise<{ out: string; err: string; exitCode: number }> {
  const program = new Command().exitOverride();
  for (const c of await commandsFor(args)) c.register(program);
  addClusterOption(program);
  let out = '';
  let err = '';
  const write = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  // Commands write text; node's test runner reports to its parent through the same stdout with
  // binary (serialized) chunks, which must pass, or a test's result goes missing from the report.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  // A command's exit code (screen's 1 for "found") is the command's, not this test process's.
  const exitBefore = process.exitCode;
  let exitCode: number;
  try {
    await program.parseAsync(['node', 'coinradar', ...args]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
    exitCode = Number(process.exitCode ?? 0);
    process.exitCode = exitBefore;
  }
  return { out, err, exitCode };
}
