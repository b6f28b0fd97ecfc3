/*
 * `rxllm demo` in a real pseudo-terminal: tmux runs it in an 80×24 pane, and the pane's whole
 * scrollback is read back afterwards. The live progress line must be redrawn in place (never
 * wrapped, never left behind), so the scrollback holds only the report: under 100 lines, none
 * wider than 80 columns (~93 with the scale-out section). Before the terminal renderer it held ~910
 * lines, ~785 of them copies of the progress line. The test starts its own tmux server on a private
 * socket and kills only that one. Without tmux it is skipped on a developer machine and fails in CI (CI=true): install it
 * with .ci/install-browser.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { findRedisServer } from '../../src/cli/demo/redisServer';
import { displayWidth } from '../../src/cli/terminal';
import { waitFor } from '../helpers/waitFor';

const ROOT = join(__dirname, '..', '..');
const haveTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const inCi = Boolean(process.env['CI']);
if (!haveTmux && !inCi) console.warn('spec/e2e/terminalDemo.spec.ts skipped: tmux is missing (apt-get install tmux, or .ci/install-browser).');
const describeInTmux = haveTmux || inCi ? describe : describe.skip;

const EXIT_MARK = 'RXLLM-DEMO-EXIT=';
/**
 * The demo compiles with ts-node (no build needed) and runs ~20 s on the simulator, plus the scale-out section's
 * three ts-node instance processes when redis-server is there; the rest is slack for a loaded machine.
 */
const DEADLINE_MS = 240_000;

describeInTmux('rxllm demo in an 80-column terminal (tmux)', () => {
  // A socket of our own: kill-server below ends this server only, never a user's or another test's.
  const socket = `rxllm-e2e-${process.pid}-${Date.now().toString(36)}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8' });

  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      // Already gone (it never started, or the pane's exit ended it).
    }
  });

  it('keeps the scrollback under 100 lines, none wider than 80 columns', async () => {
    if (!haveTmux) throw new Error('CI=true and tmux is missing: run .ci/install-browser before the tests.');
    const command = [
      `cd ${JSON.stringify(ROOT)}`,
      // The terminal decides width and colour: nothing inherited from the test's environment.
      `env -u NO_COLOR -u FORCE_COLOR -u COLUMNS -u LINES TS_NODE_TRANSPILE_ONLY=1 node -r ts-node/register src/cli/main.ts demo --seed 1`,
      `echo ${EXIT_MARK}$?`,
      'sleep 600',
    ].join('; ');
    // History limit first, so the session's window is created with it.
    tmux('start-server', ';', 'set-option', '-g', 'history-limit', '50000', ';', 'new-session', '-d', '-x', '80', '-y', '24', command);

    const capture = () => tmux('capture-pane', '-p', '-S', '-');
    // Once a second is enough for a run of ~20 s, and spares the loaded machine a tmux call every 10 ms.
    await waitFor(() => capture().includes(EXIT_MARK), 'the demo exiting in the tmux pane', DEADLINE_MS, 1000);
    const screen = capture(); // the pane now only sleeps: what it shows is final
    expect(screen).toContain(`${EXIT_MARK}0`);

    // Rows as the terminal kept them (a wrapped line counts once per row it took) ...
    const rows = screen.slice(0, screen.indexOf(EXIT_MARK)).replace(/\s+$/, '').split('\n');
    // ... and lines as the program wrote them (-J joins wrapped rows back into one line).
    const lines = tmux('capture-pane', '-p', '-J', '-S', '-').replace(/\s+$/, '').split('\n');
    const widest = Math.max(...lines.map((line) => displayWidth(line)));

    expect(rows.join('\n')).toContain('Latency by step');
    expect(rows.join('\n')).toContain('3. Load control');
    // With a redis-server on the PATH (CI installs one) the scale-out section runs too, and fits the same limits.
    if (findRedisServer()) expect(rows.join('\n')).toContain('4. Scale-out: 3 instance processes');
    // The live line was cleared each time: no copy of it is left anywhere.
    expect(rows.filter((row) => / · text \d\/\d · /.test(row))).toEqual([]);
    expect(widest).toBeLessThanOrEqual(80);
    expect(rows.length).toBeLessThan(100);
  }, DEADLINE_MS + 10_000);
});
