import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import type { TimelineRow } from '../../src/metrics/timeline';
import { waterfallHtml } from '../../src/metrics/waterfallHtml';

const rows: TimelineRow[] = [
  { name: 'classify', start: 1000, firstToken: 1095, end: 1180, status: 'ok', critical: true, detail: 'small · 6 tok' },
  { name: 'summary', start: 1180, firstToken: 1410, end: 2240, status: 'ok', critical: true },
  { name: 'keywords', start: 1180, firstToken: 1330, end: 1610, status: 'ok' },
  { name: 'docs <search>', start: 1180, end: 1900, status: 'error', detail: 'timeout & "retry"' },
  { name: 'followups', start: 1180, end: 1300, status: 'cancelled' },
];

describe('waterfallHtml', () => {
  const html = waterfallHtml(rows, { title: 'Support <reply>', subtitle: 'ticket #4821' });

  it('is one self-contained page: no script, no external resource', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|@import|src=|href=/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('escapes every name, detail and title', () => {
    expect(html).toContain('<title>Support &lt;reply&gt;</title>');
    expect(html).toContain('docs &lt;search&gt;');
    expect(html).toContain('timeout &amp; &quot;retry&quot;');
    expect(html).not.toContain('<search>');
  });

  it('shows the headline figures and the critical path', () => {
    const fact = (label: string) => new RegExp(`<dt>${label}</dt><dd>([^<]*)</dd>`).exec(html)?.[1];
    expect(fact('wall time')).toBe('1.24s');
    expect(fact('first token')).toBe('95ms');
    expect(fact('critical path')).toBe('1.24s');
    expect(fact('nodes')).toBe('5');
    // (180 + 1060 + 430 + 720 + 120) / 1240
    expect(fact('overlap \\(busy ÷ wall\\)')).toBe('2.0×');
    expect(html).toContain('Critical path: <b>classify</b> → <b>summary</b>');
  });

  it('draws a row per node, with a connector along the critical path and the in-flight lane', () => {
    expect(html.match(/<g class="row/g)).toHaveLength(5);
    expect(html.match(/<g class="row critical"/g)).toHaveLength(2);
    expect(html.match(/class="connector"/g)).toHaveLength(1);
    expect(html.match(/<circle /g)?.length).toBeGreaterThanOrEqual(3); // a first-token dot per node that had one
    expect(html).toContain('stroke-dasharray="4 3"'); // the cancelled node
    expect(html).toMatch(/peak <\/tspan><tspan class="duration">4<\/tspan>/);
  });

  it('adds the percentile table when given a snapshot, steps in the order the run started them', () => {
    const clock = { now: () => 0 };
    const registry = new LatencyRegistry({ scheduler: clock as never });
    for (const [step, ttft] of [['summary', 230], ['classify', 95], ['other', 10]] as const) {
      registry.record({ step, model: 'm', start: 0, firstToken: ttft, end: ttft * 3, outcome: 'ok', outputTokens: 9, outputTokensFrom: 'usage', finishReasons: ['stop'] });
    }
    const withTable = waterfallHtml(rows, { snapshot: registry.snapshot() });
    expect(withTable).toContain('Latency per step');
    const order = [...withTable.matchAll(/<th scope="row">(?:<span class="diamond">◆<\/span> )?([^<]+)<\/th>/g)].map((m) => m[1]);
    expect(order).toEqual(['classify', 'summary', 'other']);
    expect(withTable).toContain('<td>230ms</td>');
    expect(html).not.toContain('Latency per step');
  });

  it('lists in the legend only what the chart shows', () => {
    const legend = (page: string) => [...page.matchAll(/<li><svg[^]*?<\/svg>([^<]+)<\/li>/g)].map((m) => m[1]);
    expect(legend(html)).toEqual(['waiting for first token', 'streaming', 'first token', 'critical path', 'error', 'cancelled']);
    expect(legend(waterfallHtml([rows[2]!]))).toEqual(['waiting for first token', 'streaming', 'first token']);
  });

  it('renders an empty run without failing', () => {
    expect(waterfallHtml([])).toContain('No nodes ran.');
  });
});
