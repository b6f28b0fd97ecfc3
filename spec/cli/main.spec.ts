/*
 * The `rxllm` binary as a process: it must exit by itself, with the right code, when a command
 * fails before any work (a missing optional peer). Run from source with ts-node (no build needed).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

function runMain(args: string[], preload: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const startedAt = Date.now();
  const child = spawn(process.execPath, ['-r', 'ts-node/register', ...preload.flatMap((file) => ['-r', file]), join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', OPENAI_BASE_URL: '', OPENAI_API_KEY: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  // Bounded: a process that would hang (a simulator left listening) is killed and fails the test.
  const guard = setTimeout(() => child.kill('SIGKILL'), 40_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, ms: Date.now() - startedAt });
    }),
  );
}

describe('rxllm (the process)', () => {
  it('chat --transport openai without the openai package: one clear line, exit 1, and the process ends by itself', async () => {
    // As if openai were not installed: every require of it fails the way Node's own does (hooked after
    // ts-node, whose resolver would otherwise bypass the hook).
    const hook = join(mkdtempSync(join(tmpdir(), 'rxllm-no-openai-')), 'no-openai.js');
    writeFileSync(
      hook,
      `const Module = require('module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'openai' || request.startsWith('openai/')) {
    throw Object.assign(new Error("Cannot find module '" + request + "'"), { code: 'MODULE_NOT_FOUND' });
  }
  return resolve.call(this, request, ...rest);
};
`,
    );
    const { code, stdout, stderr } = await runMain(['chat', '--transport', 'openai', 'hi'], [hook]);
    expect(code).toBe(1); // not null: it exited, nobody killed it
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'rxllm chat: transport "openai" needs the openai package, an optional peer dependency of rxllm: run npm install openai (or use --transport sse, which needs nothing more)\n',
    );
  }, 60_000);

  it('--version prints the version', async () => {
    const { code, stdout } = await runMain(['--version']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+/);
  }, 60_000);
});
