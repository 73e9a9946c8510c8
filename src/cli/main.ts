#!/usr/bin/env node
/**
 * The `rollcall` command (the package's bin): `rollcall <command> [options]`, `--help` on each.
 */
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, note, UsageError, type Command } from './command.js';
import { demoCommand } from './demo.js';
import { runInspect } from './inspect.js';
import { nodeCommand } from './node-command.js';

const COMMANDS: readonly Command[] = [
  nodeCommand,
  demoCommand,
  { name: 'inspect', summary: 'show the nodes, registry keys, groups and members of a running cluster', run: (argv) => runInspect(argv) },
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'Usage: rollcall <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run "rollcall <command> --help" for the options of a command.',
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`rollcall: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      note(`${command.name}: ${error.message}`);
      note(`run "rollcall ${command.name} --help" for the options`);
      return EXIT_USAGE;
    }
    if (error instanceof CliError) {
      note(error.message);
      return EXIT_FAILURE;
    }
    process.stderr.write(`rollcall ${command.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_FAILURE;
  }
}

// Exit explicitly: a command has finished (or failed) once it returns, even if something it
// started still holds the event loop.
process.exit(await main(process.argv.slice(2)));
