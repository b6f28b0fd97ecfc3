import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { runServe, type ServeIo } from '../../src/cli/serve';
import { result } from '../../src/operators/result';
import { sseTransport } from '../../src/transport/sse';

interface Run {
  io: ServeIo;
  stop(): void;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line. */
  firstLine(): Promise<string>;
}

function capture(): Run {
  const controller = new AbortController();
  let out = '';
  let err = '';
  let onLine: ((line: string) => void) | undefined;
  const firstLine = new Promise<string>((resolve) => (onLine = resolve));
  return {
    io: {
      stdout: {
        write: (chunk: string) => {
          out += chunk;
          if (out.includes('\n')) onLine?.(out.slice(0, out.indexOf('\n')));
        },
      },
      stderr: { write: (chunk: string) => (err += chunk) },
      until: controller.signal,
    },
    stop: () => controller.abort(),
    stdout: () => out,
    stderr: () => err,
    firstLine: () => firstLine,
  };
}

describe('rxllm serve', () => {
  it('prints "listening on http://HOST:PORT" first, serves the simulator, and shuts down cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rxllm-serve-'));
    const profiles = join(dir, 'profiles.json');
    await writeFile(profiles, JSON.stringify({ quick: { ttftMs: 2, tokensPerSecond: 1000, outputTokens: 3 } }));
    const run = capture();
    const exit = runServe(['--port', '0', '--host', '127.0.0.1', '--profiles', profiles, '--seed', '3'], run.io);
    try {
      const line = await run.firstLine();
      expect(line).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+$/);
      const url = line.slice('listening on '.length);
      const answer = await lastValueFrom(
        sseTransport({ baseURL: `${url}/v1` })({ model: 'quick', messages: [{ role: 'user', content: 'Explain caching' }] }).pipe(result()),
      );
      expect(answer.usage?.completion_tokens).toBe(3);
    } finally {
      run.stop();
      await rm(dir, { recursive: true, force: true });
    }
    expect(await exit).toBe(0);
    expect(run.stdout()).toMatch(/simulator stopped\n$/);
  });

  it.each([
    [['--port', 'abc'], /^rxllm serve: --port must be an integer 0–65535, got "abc"\n  --port N — port to listen on/],
    [['--seed', '1.5'], /--seed must be an integer/],
    [['--colour'], /^rxllm serve: unknown option --colour\n  usage: rxllm serve \[options\]\n/],
  ])('rejects %j with exit code 2', async (args, message) => {
    const run = capture();
    expect(await runServe(args, run.io)).toBe(2);
    expect(run.stderr()).toMatch(message);
  });

  it('exits 1 with the reason when the server cannot start', async () => {
    const run = capture();
    expect(await runServe(['--port', '0', '--profiles', join(tmpdir(), 'no-such-rxllm-profiles.json')], run.io)).toBe(1);
    expect(run.stderr()).toMatch(/Could not read simulator profiles/);
  });

  it('prints help', async () => {
    const run = capture();
    expect(await runServe(['--help'], run.io)).toBe(0);
    expect(run.stdout()).toMatch(/^rxllm serve \[options\]/);
  });
});
