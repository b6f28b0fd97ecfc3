/*
 * scripts/check-readme-blocks.mjs (npm run check:docs): it type-checks markdown TypeScript blocks against
 * the built package, reports an error at its markdown line, honours the fragment and continues markers,
 * and passes on this repository's README.md and docs/.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const script = join(root, 'scripts', 'check-readme-blocks.mjs');

function check(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8', timeout: 100_000 }, (error, stdout, stderr) =>
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const fixture = `# Title

\`\`\`ts
import { parallel, step } from 'rxllm';
import { simulatedTransport } from 'rxllm/simulator';
const transport = simulatedTransport({ seed: 1 });
const hello = step('hello', (name: string) => ({ model: 'm', messages: [{ role: 'user' as const, content: name }] }), { transport });
\`\`\`

<!-- continues -->
\`\`\`ts
parallel({ hello }).value('you').subscribe(console.log);
\`\`\`

\`\`\`sh
not checked: not TypeScript
\`\`\`

<!-- fragment -->
\`\`\`ts
undefinedName.run();
\`\`\`

\`\`\`ts fragment
alsoUndefined();
\`\`\`

\`\`\`ts
import { step } from 'rxllm';
const broken: number = step;
\`\`\`
`;

let dir: string;

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'esm', 'index.d.ts'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (the blocks are checked against the built package; CI builds first).');
  }
  dir = mkdtempSync(join(tmpdir(), 'rxllm-blocks-spec-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scripts/check-readme-blocks.mjs', () => {
  it('checks blocks against the built package: an error at its markdown line, fragments skipped, continued blocks see the names before', async () => {
    const file = join(dir, 'fixture.md');
    writeFileSync(file, fixture);
    const { code, stdout } = await check(file);
    expect(code).toBe(1);
    const lines = stdout.trim().split('\n');
    expect(stdout).toMatch(/fixture\.md:3  ok\n/);
    expect(stdout).toMatch(/fixture\.md:11  ok \(continues the block before\)\n/);
    expect(stdout).toMatch(/fixture\.md:20  fragment \(not checked\)\n/);
    expect(stdout).toMatch(/fixture\.md:24  fragment \(not checked\)\n/);
    expect(stdout).toMatch(/fixture\.md:28  FAILED \(1\)\n {2}\S*fixture\.md:30: error TS2322: Type .* is not assignable to type 'number'/);
    expect(stdout).not.toMatch(/undefinedName|alsoUndefined/);
    expect(lines.at(-1)).toBe('5 TypeScript blocks: 3 checked (1 failed), 2 fragments');
  }, 120_000);

  it('reads README.md and every .md under docs/, the guides in docs/guides/ included, and never TypeDoc output in docs/api/', async () => {
    const { code, stdout } = await check('--list');
    expect(code).toBe(0);
    const files = new Set(stdout.trim().split('\n').map((line) => line.split(':')[0] ?? ''));
    expect(files).toContain('README.md');
    expect(files).toContain('docs/guides/pipelines.md');
    expect([...files].filter((file) => file.startsWith('docs/api/'))).toEqual([]);
  }, 120_000);

  it("passes on this repository's README.md and docs/", async () => {
    const { code, stdout, stderr } = await check();
    if (code !== 0) throw new Error(`npm run check:docs failed:\n${stdout}${stderr}`);
    expect(stdout).toMatch(/\d+ TypeScript blocks: \d+ checked \(0 failed\), \d+ fragments/);
  }, 120_000);
});
