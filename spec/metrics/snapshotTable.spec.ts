import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import { snapshotTable } from '../../src/metrics/snapshotTable';

function registryWith(): LatencyRegistry {
  const registry = new LatencyRegistry({ scheduler: { now: () => 0 } as never });
  const record = (step: string, model: string, ttft: number, total: number, outcome: 'ok' | 'error' | 'cancelled' = 'ok') =>
    registry.record({
      step,
      model,
      start: 0,
      firstToken: ttft,
      end: total,
      outcome,
      ...(outcome === 'error' ? { errorCode: 'timeout' } : {}),
      outputTokens: 20,
      outputTokensFrom: 'usage',
      finishReasons: [],
    });
  for (let i = 1; i <= 20; i++) record('keywords', 'small', 80 + i, 300 + i);
  for (let i = 1; i <= 10; i++) record('summary', 'big', 200 * i, 1000 + 200 * i, i === 3 ? 'error' : i === 4 ? 'cancelled' : 'ok');
  return registry;
}

describe('snapshotTable', () => {
  it('shows requests, errors and p50/p95/p99 of TTFT and total per step', () => {
    expect(snapshotTable(registryWith().snapshot()).split('\n')).toEqual([
      'Latency by step (all time)',
      '                         time to first token      total time',
      'step      req  err  cxl    p50    p95    p99    p50    p95    p99  tok/s',
      // keywords: TTFT 81..100 ms, so p95 is the 19th smallest; 20 tokens over 220 ms is 90.9/s.
      'keywords   20    0    0   90ms   99ms  100ms  310ms  319ms  320ms   90.9',
      // summary: TTFT counts all 10 requests; total only the 8 that completed.
      'summary    10    1    1  1.00s  2.00s  2.00s  2.20s  3.00s  3.00s   20.0',
    ]);
  });

  it('groups by model, reads the window, and colours only the error count', () => {
    const table = snapshotTable(registryWith().snapshot(), { by: 'model', view: 'window', color: true });
    expect(table).toContain('Latency by model (sliding window: last 60s)');
    expect(table).toMatch(/\nbig +10 +\u001b\[31m1\u001b\[0m +1 /);
    expect(table.replace(/\u001b\[[\d;]*m/g, '').split('\n')[3]).toMatch(/^big +10 +1 +1 +1\.00s/);
  });

  it('says when nothing was measured', () => {
    expect(snapshotTable(new LatencyRegistry().snapshot())).toContain('(no requests measured)');
  });
});
