/**
 * The README's quick start claims to run as pasted, with no key. This runs it: scripts/readme-figures.mjs
 * extracts the block after `<!-- quickstart -->`, erases its types and runs it against the BUILT package
 * (through the package's "exports", as an app imports it), on the simulator. `npm run check:docs`
 * type-checks the same block; this checks what it does and prints.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');

/** The figures in a printed run: the two wall times and the speed-up, and everything else (which must repeat). */
function figures(output: string) {
  const sequential = /sequential\s+(\d+) ms/.exec(output);
  const parallel = /parallel\s+(\d+) ms\s+\((\d+\.\d+)× faster\)/.exec(output);
  const rest = output
    .split('\n')
    .filter((line) => !/^(sequential|parallel) +\d/.test(line))
    .join('\n')
    .trim();
  return { sequentialMs: Number(sequential?.[1]), parallelMs: Number(parallel?.[1]), speedUp: Number(parallel?.[2]), rest };
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'esm', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (CI builds before it runs the tests).');
  }
});

it('the quick start runs as pasted on the simulator: parallel gives the same answers as sequential, in about the slowest step', () => {
  const output = execFileSync(process.execPath, [join(root, 'scripts', 'readme-figures.mjs'), '--print'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 90_000,
  });
  const run = figures(output);

  expect(output).toContain('parallel gives the same answers: true');
  expect(run.rest).toMatch(/sentiment: '(positive|negative|neutral)'/);
  // Three steps of similar length: one after another takes about three of them, at once about one.
  expect(run.parallelMs).toBeGreaterThan(0);
  expect(run.sequentialMs).toBeGreaterThan(1.5 * run.parallelMs);
  expect(run.speedUp).toBeCloseTo(run.sequentialMs / run.parallelMs, 1);

  // What the README shows is this run's output: the seeded answers repeat exactly (only wall times move).
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const region = /<!-- figures:quickstart -->\n```text\n([\s\S]*?)\n```\n<!-- \/figures -->/.exec(readme);
  expect(region).not.toBeNull();
  expect(figures(region?.[1] ?? '').rest).toBe(run.rest);
}, 120_000);
