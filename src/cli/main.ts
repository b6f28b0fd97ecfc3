#!/usr/bin/env node
import { runChat } from './chat.js';
import { runDemo } from './demo/demo.js';
import { runServe } from './serve.js';

const USAGE = `rxllm: latency-optimized LLM pipelines on RxJS

Usage:
  rxllm demo [options]            the content-analysis pipeline four ways, timed (see rxllm demo --help)
  rxllm chat [options] PROMPT     stream one answer to stdout (see rxllm chat --help)
  rxllm serve [options]           run the built-in OpenAI-compatible simulator (see rxllm serve --help)
  rxllm --help                    this text
`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  demo: runDemo,
  chat: runChat,
  serve: runServe,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = commands[command];
  if (!run) {
    process.stderr.write(`rxllm: unknown command "${command}". Commands: ${Object.keys(commands).join(', ')}.\n`);
    return 2;
  }
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`rxllm: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
