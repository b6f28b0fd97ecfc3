/*
 * scripts/cli.js, behind `npm run demo` and `npm run chat`: from a checkout without a build it says
 * "run npm run build" instead of a MODULE_NOT_FOUND stack; with one, it runs the compiled CLI with
 * the arguments given. Copied into a scratch checkout, so whether this one is built does not matter.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function scratchCheckout(): string {
  const root = mkdtempSync(join(tmpdir(), 'rxllm-checkout-'));
  mkdirSync(join(root, 'scripts'));
  copyFileSync(join(__dirname, '..', '..', 'scripts', 'cli.js'), join(root, 'scripts', 'cli.js'));
  return root;
}

describe('scripts/cli.js (npm run demo / chat)', () => {
  it('without a build: one line saying to run npm run build, exit 1', () => {
    const root = scratchCheckout();
    const run = spawnSync(process.execPath, ['scripts/cli.js', 'demo'], { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('rxllm: no build yet (dist/cjs/cli/main.js is missing): run npm run build first, then try again.\n');
    expect(run.stdout).toBe('');
  });

  it('with a build: runs dist/cjs/cli/main.js with the command and its arguments', () => {
    const root = scratchCheckout();
    mkdirSync(join(root, 'dist', 'cjs', 'cli'), { recursive: true });
    writeFileSync(join(root, 'dist', 'cjs', 'cli', 'main.js'), 'process.stdout.write(JSON.stringify(process.argv.slice(2)));');
    expect(execFileSync(process.execPath, ['scripts/cli.js', 'chat', '--json', 'hi'], { cwd: root, encoding: 'utf8' })).toBe('["chat","--json","hi"]');
  });
});
