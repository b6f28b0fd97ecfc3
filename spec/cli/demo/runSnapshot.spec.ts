import { asyncScheduler, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { contentAnalysisPipeline } from '../../../src/cli/demo/pipeline';
import type { LlmRequest } from '../../../src/core/request';
import { textScript } from '../../../src/testing/script';
import { scriptedTransport } from '../../../src/testing/scriptedTransport';
import { runSnapshots, snapshotRows, type DemoMode, type RunSnapshot } from '../../../src/cli/demo/runSnapshot';

// Every answer: first token at 100 ms, a word every 10 ms. Sentiment 1 word (done at 100),
// summary 3 words (done at 120), keywords 2 words (done at 110), reply 2 words (done at 110).
const llm = () =>
  scriptedTransport((request: LlmRequest) => {
    const prompt = String(request.messages[0]!.content);
    const answer = (text: string) => textScript(text, { at: 100, every: 10 });
    if (prompt.startsWith('Classify')) return answer('positive');
    if (prompt.startsWith('Summarize')) return answer('Fast and quiet.');
    if (prompt.startsWith('Extract')) return answer('{"value": ["fast"]}');
    return answer('Thank you!');
  });

function snapshotsOf(mode: DemoMode): RunSnapshot[] {
  let out: RunSnapshot[] = [];
  new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ flush }) => {
    const pipeline = contentAnalysisPipeline(llm, 'gpt-4o-mini');
    runSnapshots(pipeline, mode, 'A quiet, fast laptop.', asyncScheduler)
      .pipe(toArray())
      .subscribe((all) => (out = all));
    flush();
  });
  return out;
}

const VALUE = { sentiment: 'positive', summary: 'Fast and quiet.', keywords: ['fast'] };

describe('runSnapshots', () => {
  it('sequential: one step after another, later steps pending until their turn', () => {
    const snapshots = snapshotsOf('sequential');
    expect(snapshots[0]).toMatchObject({ mode: 'sequential', status: 'waiting', elapsedMs: 0, nodes: { sentiment: { status: 'waiting', startMs: 0 }, summary: { status: 'pending' } } });
    const done = snapshots.at(-1)!;
    expect(done).toMatchObject({ status: 'done', elapsedMs: 330, firstTokenMs: 100, value: VALUE });
    expect(done.nodes).toMatchObject({
      sentiment: { startMs: 0, firstTokenMs: 100, endMs: 100 },
      summary: { startMs: 100, firstTokenMs: 200, endMs: 220, text: 'Fast and quiet.' },
      keywords: { startMs: 220, endMs: 330 },
    });
    // The summary's text grows token by token across snapshots.
    const texts = [...new Set(snapshots.map((s) => s.nodes['summary']!.text))];
    expect(texts).toEqual(['', 'Fast ', 'Fast and ', 'Fast and quiet.']);
  });

  it('parallel: every step starts at once; the run ends with the slowest', () => {
    const done = snapshotsOf('parallel').at(-1)!;
    expect(done).toMatchObject({ mode: 'parallel', status: 'done', elapsedMs: 120, firstTokenMs: 100, value: VALUE });
    expect(Object.values(done.nodes).map((node) => node.startMs)).toEqual([0, 0, 0]);
  });

  it('graph: the reply starts when sentiment and summary are final; the critical path is reported', () => {
    const snapshots = snapshotsOf('graph');
    expect(snapshots[0]!.nodes['reply']).toEqual({ status: 'pending', text: '' });
    const done = snapshots.at(-1)!;
    expect(done).toMatchObject({ mode: 'graph', status: 'done', elapsedMs: 230, criticalPath: ['summary', 'reply'], value: { ...VALUE, reply: 'Thank you!' } });
    expect(done.nodes['reply']).toMatchObject({ status: 'done', startMs: 120, firstTokenMs: 220, endMs: 230 });
  });

  it('snapshotRows: the started nodes as waterfall rows, critical ones marked; running ones end at the snapshot', () => {
    const snapshots = snapshotsOf('graph');
    expect(snapshotRows(snapshots.at(-1)!)).toEqual([
      { name: 'sentiment', start: 0, firstToken: 100, end: 100, status: 'ok' },
      { name: 'summary', start: 0, firstToken: 100, end: 120, status: 'ok', critical: true },
      { name: 'keywords', start: 0, firstToken: 100, end: 110, status: 'ok' },
      { name: 'reply', start: 120, firstToken: 220, end: 230, status: 'ok', critical: true },
    ]);
    const midRun = snapshots.find((s) => s.nodes['reply']!.status === 'waiting')!;
    expect(snapshotRows(midRun).find((row) => row.name === 'reply')).toEqual({ name: 'reply', start: 120, end: midRun.elapsedMs, status: 'cancelled' });
  });

  it('is cold, and unsubscribing aborts the requests', () => {
    new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ flush }) => {
      const transport = llm();
      const run$ = runSnapshots(contentAnalysisPipeline(() => transport, 'gpt-4o-mini'), 'graph', 'text', asyncScheduler);
      expect(transport.requests).toHaveLength(0);
      const subscription = run$.subscribe();
      asyncScheduler.schedule(() => subscription.unsubscribe(), 50);
      flush();
      expect(transport.requests.map((r) => [r.outcome, r.endedAt])).toEqual([
        ['cancelled', 50],
        ['cancelled', 50],
        ['cancelled', 50],
      ]);
    });
  });
});
