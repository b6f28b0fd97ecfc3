import { renderWaterfall } from '../../src/metrics/renderWaterfall';
import type { TimelineRow } from '../../src/metrics/timeline';

// Times as a scheduler would give them: epoch milliseconds. The renderer works relative to the first start.
const t0 = 1_700_000_000_000;
const rows: TimelineRow[] = [
  { name: 'extract', start: t0, firstToken: t0 + 100, end: t0 + 400, status: 'ok', critical: true },
  { name: 'sentiment', start: t0, firstToken: t0 + 200, end: t0 + 500, status: 'ok', detail: 'small · 12 tok' },
  { name: 'summary', start: t0 + 400, firstToken: t0 + 600, end: t0 + 1000, status: 'ok', critical: true },
  { name: 'keywords', start: t0, end: t0 + 300, status: 'error', detail: 'timeout' },
];

describe('renderWaterfall', () => {
  it('draws one bar per node on a shared axis, waiting light and streaming solid, with the critical path', () => {
    expect(renderWaterfall(rows, { width: 80 }).split('\n')).toEqual([
      '            0                500ms      1.00s',
      '            ┬────────────────┬──────────────┬',
      '◆ extract   ░░░███████████                     400ms  ttft 100ms',
      '  sentiment ░░░░░░░██████████                  500ms  ttft 200ms  small · 12 tok',
      '◆ summary                ░░░░░░░█████████████  600ms  ttft 200ms',
      '  keywords  ░░░░░░░░░░                         300ms  no token error  timeout',
      '',
      '  ░ waiting for first token  █ streaming  ◆ critical path',
      '  wall 1.00s · critical path extract → summary · 4 nodes, 1.8× overlap',
    ]);
  });

  it('has no escape codes unless asked for colour, and colours by status when asked', () => {
    const escape = /\u001b\[/;
    expect(renderWaterfall(rows)).not.toMatch(escape);
    const colored = renderWaterfall(rows, { color: true });
    expect(colored).toMatch('\u001b[35m███████'); // critical path: magenta
    expect(colored).toMatch('\u001b[31merror\u001b[0m');
    // The same picture once the codes are gone.
    expect(colored.replace(/\u001b\[[\d;]*m/g, '')).toBe(renderWaterfall(rows));
  });

  it('falls back to plain ASCII', () => {
    const ascii = renderWaterfall(rows, { ascii: true, width: 60 });
    expect(ascii).toMatch(/^\* extract {3}\.#####/m);
    expect(ascii).toMatch('1.8x overlap');
    // Every character is ASCII but those of the details the caller wrote (`small · 12 tok`).
    expect([...ascii.replace(/ · /g, ' ')].every((c) => c.charCodeAt(0) < 128)).toBe(true);
  });

  it('keeps each line within the width it is given, truncating long names and details', () => {
    const long: TimelineRow[] = [
      { name: 'a-step-with-a-very-long-descriptive-name', start: 0, firstToken: 50, end: 100, status: 'ok', detail: 'x'.repeat(80) },
      { name: 'b', start: 20, end: 90, status: 'cancelled' },
    ];
    const lines = renderWaterfall(long, { width: 90 }).split('\n');
    for (const line of lines.slice(0, 4)) expect([...line].length).toBeLessThanOrEqual(90);
    expect(lines[2]).toMatch(/^ {2}a-step-with-a-very-long… /);
    expect(lines[3]).toMatch(/no token cancelled$/);
  });

  it('says so when there is nothing to draw', () => {
    expect(renderWaterfall([], { title: 'Run 7' })).toBe('Run 7\n(empty timeline)');
  });
});
