#!/usr/bin/env node
// The `rxllm` binary: runs the command line and sets the exit code (the logic is in rxllm.ts, where tests reach it).
import { runRxllm } from './rxllm.js';

runRxllm(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`rxllm: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
