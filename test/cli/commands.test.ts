import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { COMMAND_MODULES, commandsFor } from '../../src/cli/commands.js';

test('each command module registers exactly the command it is named for (the CLI loads only that one)', async () => {
  for (const [name, load] of Object.entries(COMMAND_MODULES)) {
    const program = new Command();
    (await load()).register(program);
    assert.deepEqual(
      program.commands.map((c) => c.name()),
      [name],
      `${name}.js`,
    );
  }
  assert.equal((await commandsFor(['summary', '--by', 'dport'])).length, 1);
  // Anything else (an option value where the command would be, --help, a typo) loads every command,
  // so commander's help and errors are the full ones.
  assert.equal((await commandsFor(['--db', 'x', 'summary'])).length, Object.keys(COMMAND_MODULES).length);
  assert.equal((await commandsFor(['--help'])).length, Object.keys(COMMAND_MODULES).length);
  assert.equal((await commandsFor(['nosuch'])).length, Object.keys(COMMAND_MODULES).length);
});
