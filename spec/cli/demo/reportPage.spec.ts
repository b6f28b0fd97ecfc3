import { LatencyRegistry } from '../../../src/metrics/LatencyRegistry';
import { reportPage, type ReportRun } from '../../../src/cli/demo/reportPage';

const run = (offset: number, names: string[], critical: string[] = []): ReportRun => ({
  wallMs: 100 * names.length,
  timeline: names.map((name, i) => ({ name, start: offset + i * 100, firstToken: offset + i * 100 + 40, end: offset + i * 100 + 100, status: 'ok' as const, ...(critical.includes(name) ? { critical: true } : {}) })),
});

const page = reportPage({
  modes: {
    'sequential <one by one>': [run(0, ['sentiment', 'summary']), run(1000, ['sentiment', 'summary'])],
    graph: [run(5000, ['summary', 'reply'], ['summary', 'reply']), run(9000, ['summary', 'reply'])],
  },
  texts: ['First text & more', 'Second text'],
  summaryTable: 'mode  wall / text',
  snapshot: new LatencyRegistry().snapshot(),
  seed: 7,
  endpoint: 'http://127.0.0.1:1234/v1 (built-in simulator, seed 7)',
  model: 'gpt-4o-mini',
  profiles: 'quick.json',
  date: '2026-12-02 12:00:00 UTC',
});

describe('reportPage', () => {
  it('names what produced the runs: endpoint, model, seed, profiles and date', () => {
    for (const fact of ['http://127.0.0.1:1234/v1 (built-in simulator, seed 7)', 'gpt-4o-mini', '>7<', 'quick.json', '2026-12-02 12:00:00 UTC']) expect(page).toContain(fact);
  });

  it('draws every text, each with all its modes on one chart, escaped', () => {
    expect(page.match(/<svg viewBox/g)).toHaveLength(2);
    expect(page).toContain('First text &#38; more');
    const charts = page.split('<svg viewBox').slice(1);
    for (const chart of charts) {
      expect(chart).toContain('sequential &#60;one by one&#62;');
      expect(chart).toContain('>graph<');
      // Two modes of two rows: four bars of two segments each.
      expect(chart.match(/<rect /g)).toHaveLength(8);
    }
    expect(charts[0]).toContain('◆ reply'); // the critical path is marked
    expect(charts[1]).not.toContain('◆');
  });

  it('has the per-step percentile table, and is laid out for 800 px and print', () => {
    expect(page).toContain('Latency by step');
    expect(page).toContain('max-width: 780px');
    expect(page).toContain('@media print');
    expect(page).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);
  });
});
