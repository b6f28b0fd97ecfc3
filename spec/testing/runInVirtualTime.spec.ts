import { concatMap, forkJoin, from, interval, map, switchMap, throwError, timer, toArray } from 'rxjs';
import { RxllmError } from '../../src/core/errors';
import type { LlmRequest } from '../../src/core/request';
import { text } from '../../src/operators/text';
import { textSoFar } from '../../src/operators/textSoFar';
import { runInVirtualTime } from '../../src/testing/runInVirtualTime';
import { textScript } from '../../src/testing/script';
import { scriptedTransport } from '../../src/testing/scriptedTransport';

const ask = (model: string, content = 'Hi'): LlmRequest => ({ model, messages: [{ role: 'user', content }] });

describe('runInVirtualTime', () => {
  const steps = () =>
    scriptedTransport({
      sentiment: textScript('positive', { at: 300 }),
      summary: textScript('A short summary.', { at: 800, every: 50 }),
      keywords: textScript('rxjs, llm', { at: 550, every: 50 }),
    });

  it('shows a parallel pipeline taking as long as its slowest step', () => {
    const llm = steps();
    const pipeline = forkJoin({
      sentiment: llm(ask('sentiment')).pipe(text()),
      summary: llm(ask('summary')).pipe(text()),
      keywords: llm(ask('keywords')).pipe(text()),
    });

    const run = runInVirtualTime(pipeline, { transport: llm });

    expect(run.completedAt).toBe(900);
    expect(run.values).toEqual([{ sentiment: 'positive', summary: 'A short summary.', keywords: 'rxjs, llm' }]);
    expect(run.emissions.map((emission) => emission.at)).toEqual([900]);
    expect(run.requests.map((r) => [r.model, r.subscribedAt, r.endedAt, r.outcome])).toEqual([
      ['sentiment', 0, 300, 'completed'],
      ['summary', 0, 900, 'completed'],
      ['keywords', 0, 600, 'completed'],
    ]);
  });

  it('shows the same steps run one after another taking the sum', () => {
    const llm = steps();
    const pipeline = from(['sentiment', 'summary', 'keywords']).pipe(
      concatMap((model) => llm(ask(model)).pipe(text())),
      toArray(),
    );

    const run = runInVirtualTime(pipeline, { transport: llm });

    expect(run.completedAt).toBe(1800);
    expect(run.requests.map((r) => [r.subscribedAt, r.endedAt])).toEqual([[0, 300], [300, 1200], [1200, 1800]]);
  });

  it('shows that a new input cancels the requests of the one before (switchMap)', () => {
    const llm = scriptedTransport({ 'gpt-4o-mini': textScript('Hello there', { at: 300, every: 10 }) });

    const run = runInVirtualTime(
      ({ hot }) =>
        hot('a 99ms b 149ms c', { a: 'one', b: 'two', c: 'three' }).pipe(
          switchMap((question) => llm(ask('gpt-4o-mini', question)).pipe(text())),
        ),
      { transport: llm },
    );

    expect(run.emissions).toEqual([{ at: 560, value: 'Hello there' }]);
    expect(run.requests.map((r) => [r.request.messages[0]?.content, r.subscribedAt, r.endedAt, r.outcome])).toEqual([
      ['one', 0, 100, 'cancelled'],
      ['two', 100, 250, 'cancelled'],
      ['three', 250, 560, 'completed'],
    ]);
  });

  it('shows that unsubscribing from a pipeline cancels every request still open under it', () => {
    const llm = steps();
    const pipeline = timer(0).pipe(
      switchMap(() =>
        forkJoin([llm(ask('sentiment')).pipe(text()), llm(ask('summary')).pipe(text()), llm(ask('keywords')).pipe(text())]),
      ),
    );

    const run = runInVirtualTime(pipeline, { transport: llm, unsubscribeAt: 500 });

    expect(run.unsubscribedAt).toBe(500);
    expect(run.completedAt).toBeUndefined();
    expect(run.requests.map((r) => [r.model, r.outcome, r.endedAt])).toEqual([
      ['sentiment', 'completed', 300],
      ['summary', 'cancelled', 500],
      ['keywords', 'cancelled', 500],
    ]);
    expect(llm.inFlight).toBe(0);
  });

  it('returns each streamed value with its frame, the first one being the time to first token', () => {
    const llm = scriptedTransport({ 'gpt-4o-mini': [{ at: 300, text: 'Hel' }, { at: 310, text: 'lo' }, { at: 320, finish: 'stop' }] });

    const run = runInVirtualTime(llm(ask('gpt-4o-mini')).pipe(textSoFar()));

    expect(run.firstValueAt).toBe(300);
    expect(run.emissions).toEqual([
      { at: 300, value: 'Hel' },
      { at: 310, value: 'Hello' },
    ]);
    expect(run.completedAt).toBe(320);
    expect(run.requests).toEqual([]); // no transport was named
  });

  it('returns the error and its frame', () => {
    const llm = scriptedTransport({ 'gpt-4o-mini': [{ at: 300, text: 'Hel' }, { at: 450, error: 'connection-lost' }] });

    const run = runInVirtualTime(llm(ask('gpt-4o-mini')).pipe(text()), { transport: llm });

    expect(run.values).toEqual([]);
    expect(run.erroredAt).toBe(450);
    expect(run.error).toMatchObject({ code: 'connection-lost', partialText: 'Hel', tokensEmitted: true });
    expect(run.requests[0]?.outcome).toBe('errored');
  });

  it('reports a synchronous error at frame 0', () => {
    const boom = new RxllmError('invalid-request', 'bad');
    const run = runInVirtualTime(throwError(() => boom));

    expect(run).toMatchObject({ erroredAt: 0, error: boom, completedAt: undefined });
  });

  it('stops a pipeline that never ends at maxTime', () => {
    const run = runInVirtualTime(interval(100).pipe(map((n) => n * 2)), { maxTime: 450 });

    expect(run.values).toEqual([0, 2, 4, 6]);
    expect(run.unsubscribedAt).toBe(450);
    expect(run.completedAt).toBeUndefined();
  });

  it('reports only the requests of its own run when a transport is reused', () => {
    const llm = steps();
    runInVirtualTime(llm(ask('sentiment')), { transport: llm });

    const second = runInVirtualTime(llm(ask('keywords')), { transport: [llm] });

    expect(second.requests.map((r) => [r.index, r.model, r.subscribedAt])).toEqual([[1, 'keywords', 0]]);
  });

  it('merges the requests of several transports in order of subscription', () => {
    const fast = scriptedTransport({ m: textScript('a', { at: 100 }) });
    const slow = scriptedTransport({ m: textScript('b', { at: 200 }) });
    const pipeline = timer(0).pipe(
      concatMap(() => slow(ask('m'))),
      toArray(),
      concatMap(() => fast(ask('m'))),
    );

    const run = runInVirtualTime(pipeline, { transport: [fast, slow] });

    expect(run.requests.map((r) => [r.subscribedAt, r.endedAt])).toEqual([[0, 200], [200, 300]]);
  });

  it('rejects a maxTime or unsubscribeAt that makes no sense', () => {
    expect(() => runInVirtualTime(timer(1), { maxTime: 0 })).toThrow(
      new RxllmError('invalid-config', 'runInVirtualTime(): `maxTime` must be a number of milliseconds > 0, got 0.'),
    );
    expect(() => runInVirtualTime(timer(1), { unsubscribeAt: -5 })).toThrow(
      new RxllmError('invalid-config', 'runInVirtualTime(): `unsubscribeAt` must be a frame ≥ 0, got -5.'),
    );
  });
});
