import { runChat, type ChatIo } from './chat.js';
import { runDemo } from './demo/demo.js';
import type { DemoIo } from './demo/types.js';
import { packageVersion } from './packageVersion.js';
import { runServe, type ServeIo } from './serve.js';

const USAGE = `rxllm: latency-optimized LLM pipelines on RxJS

Usage:
  rxllm demo [options]            the content-analysis pipeline four ways, timed
  rxllm chat [options] PROMPT     stream one answer to stdout
  rxllm serve [options]           run the built-in OpenAI-compatible simulator
  rxllm help [COMMAND]            this text, or a command's options
  rxllm --version                 the installed version
`;

/** Where `rxllm` writes: every command's io at once; tests pass their own. */
export type RxllmIo = ChatIo & DemoIo & ServeIo;

const commands: Record<string, (args: string[], io: RxllmIo) => Promise<number>> = {
  demo: runDemo,
  chat: runChat,
  serve: runServe,
};

/**
 * The `rxllm` command line: dispatches to a command, or answers `help [COMMAND]`, `--help` and
 * `--version` itself. Resolves with the exit code: 0, 1 when a command failed, 2 for a usage error.
 */
export async function runRxllm(argv: readonly string[], io: RxllmIo = process): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    io.stdout.write(`${packageVersion() ?? 'unknown'}\n`);
    return 0;
  }
  if (command === 'help' && rest[0] !== undefined) {
    const run = commands[rest[0]];
    if (run) return run(['--help'], io);
    return unknownCommand(io, rest[0]);
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.stderr : io.stdout).write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = commands[command];
  if (!run) return unknownCommand(io, command);
  return run(rest, io);
}

function unknownCommand(io: RxllmIo, command: string): number {
  const hint = command.startsWith('-') ? `unknown option ${command}` : `unknown command "${command}"`;
  io.stderr.write(`rxllm: ${hint}. Commands: ${Object.keys(commands).join(', ')} (rxllm help lists them)\n`);
  return 2;
}
