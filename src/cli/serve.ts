import { parseArgs } from 'node:util';
import { isRxllmError } from '../core/errors.js';
import { startSimulatorServer } from '../node/simulatorServer.js';
import { untilStopped } from './untilStopped.js';
import { describeParseError, usageError } from './usageError.js';

const HELP = `rxllm serve [options]

Runs the built-in OpenAI-compatible simulator: realistic, seeded latency and
deterministic answers, on /v1/chat/completions, /v1/embeddings and /v1/models,
with counters at /stats. Point any OpenAI client at http://HOST:PORT/v1.

Options:
  --port N          port to listen on (default 8787; 0 picks a free one)
  --host HOST       interface to listen on (default 127.0.0.1)
  --profiles FILE   JSON file of latency profiles, merged over the built-in ones
  --seed N          seed for delays and answers (default 1)
  -h, --help        this text

Per request, the header x-rxllm-sim (e.g. "ttft=300,tokens=50,fault=429")
overrides the profile. Stop with Ctrl+C.
`;

/** Where `rxllm serve` writes, and what stops it; tests pass their own. */
export interface ServeIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  /** Stops the server when aborted. Without it, SIGINT and SIGTERM stop it. */
  until?: AbortSignal;
}

/**
 * `rxllm serve`: starts the simulator server, prints `listening on
 * http://HOST:PORT` as its first line, and runs until SIGINT or SIGTERM (or
 * `io.until` aborts), then closes it. Returns the exit code: 0 after a clean
 * shutdown, 1 when the server could not start, 2 for a usage error.
 */
export async function runServe(args: string[], io: ServeIo = process): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '8787' },
        host: { type: 'string', default: '127.0.0.1' },
        profiles: { type: 'string' },
        seed: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return usageError(io, 'serve', HELP, describeParseError(error));
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) {
    return usageError(io, 'serve', HELP, `--port must be an integer 0–65535, got "${values.port}"`);
  }
  const seed = Number(values.seed);
  if (!/^-?\d+$/.test(values.seed)) {
    return usageError(io, 'serve', HELP, `--seed must be an integer, got "${values.seed}"`);
  }

  let server;
  try {
    server = await startSimulatorServer({ port, host: values.host, seed, ...(values.profiles ? { profiles: values.profiles } : {}) });
  } catch (error) {
    io.stderr.write(`rxllm serve: ${isRxllmError(error) || error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  io.stdout.write(`listening on ${server.url}\n`);
  io.stdout.write(`OpenAI base URL: ${server.baseURL} (any API key). Stats: ${server.url}/stats. Seed ${seed}. Ctrl+C to stop.\n`);

  await untilStopped(io.until);
  await server.close();
  io.stdout.write('simulator stopped\n');
  return 0;
}
