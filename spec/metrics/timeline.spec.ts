import type { LatencyRecord } from '../../src/metrics/LatencyRecord';
import { timelineFromGraph, timelineFromRecords } from '../../src/metrics/timeline';

describe('timelineFromRecords', () => {
  it('makes one row per record, in order of start, with model, tokens and error code as detail', () => {
    const base = { outputTokensFrom: 'usage' as const, finishReasons: [] };
    const records: LatencyRecord[] = [
      { ...base, step: 'summary', model: 'big', start: 50, firstToken: 90, end: 400, outcome: 'ok', outputTokens: 120 },
      { ...base, step: 'small', model: 'small', start: 0, end: 30, outcome: 'error', errorCode: 'timeout', outputTokens: 0 },
    ];
    expect(timelineFromRecords(records)).toEqual([
      { name: 'small', start: 0, end: 30, status: 'error', detail: '0 tok · timeout' },
      { name: 'summary', start: 50, firstToken: 90, end: 400, status: 'ok', detail: 'big · 120 tok' },
    ]);
  });
});

describe('timelineFromGraph', () => {
  it("maps a graph run's timeline: done is ok, failed is error, unfinished nodes cancelled at the run's end", () => {
    const rows = timelineFromGraph({
      timeline: [
        { node: 'sentiment', status: 'done', startedAt: 0, firstTokenAt: 120, endedAt: 300 },
        { node: 'summary', status: 'failed', startedAt: 0, firstTokenAt: 200, endedAt: 900 },
        { node: 'keywords', status: 'streaming', startedAt: 0, firstTokenAt: 150 },
        { node: 'lookup', status: 'waiting', startedAt: 50 },
      ],
      criticalPath: ['summary'],
      endedAt: 905,
    });
    expect(rows).toEqual([
      { name: 'sentiment', start: 0, firstToken: 120, end: 300, status: 'ok' },
      { name: 'summary', start: 0, firstToken: 200, end: 900, status: 'error', critical: true },
      { name: 'keywords', start: 0, firstToken: 150, end: 905, status: 'cancelled' },
      { name: 'lookup', start: 50, end: 905, status: 'cancelled' },
    ]);
  });

  it('ends unfinished nodes at the latest time seen when the run has no end yet', () => {
    const rows = timelineFromGraph({
      timeline: [
        { node: 'a', status: 'done', startedAt: 0, endedAt: 400 },
        { node: 'b', status: 'streaming', startedAt: 100 },
      ],
    });
    expect(rows[1]).toEqual({ name: 'b', start: 100, end: 400, status: 'cancelled' });
  });
});
