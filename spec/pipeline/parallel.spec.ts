import { EMPTY, last, map, mergeMap, type Observable, of, switchMap } from 'rxjs';
import type { LlmRequest } from '../../src/core/request';
import { z } from 'zod';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import { parallel } from '../../src/pipeline/parallel';
import { step } from '../../src/pipeline/step';
import type { StepState } from '../../src/pipeline/StepState';
import { ask, createTestScheduler, events, routedTransport, show } from './fakes';

const label = z.enum(['positive', 'negative', 'neutral']);

/** The article's three steps over one fake transport; each step's request names its own route. */
function contentSteps(transport: ReturnType<typeof routedTransport>) {
  return {
    sentiment: step('sentiment', (text: string) => ask('sentiment', text), { transport, output: label }),
    summary: step('summary', (text: string) => ask('summary', text), { transport }),
    keywords: step('keywords', (text: string) => ask('keywords', text), { transport }),
  };
}

describe('parallel', () => {
  it('finishes when the slowest branch does: wall time = max, not sum', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const sentiment = cold('  300ms (af|)', events({ a: 'positive' }));
      const sentimentSubs = '   ^ 299ms !   ';
      const summary = cold('    900ms (af|)', events({ a: 'Rx is fast.' }));
      const summarySubs = '     ^ 899ms !   ';
      const keywords = cold('   600ms (af|)', events({ a: 'rx, llm' }));
      const keywordsSubs = '    ^ 599ms !   ';
      const expected = '        900ms (v|)  ';

      const analysis = parallel(contentSteps(routedTransport({ sentiment: [sentiment], summary: [summary], keywords: [keywords] })));

      expectObservable(analysis.value('text')).toBe(expected, {
        v: { sentiment: 'positive', summary: 'Rx is fast.', keywords: 'rx, llm' },
      });
      expectSubscriptions(sentiment.subscriptions).toBe(sentimentSubs);
      expectSubscriptions(summary.subscriptions).toBe(summarySubs);
      expectSubscriptions(keywords.subscriptions).toBe(keywordsSubs);
    });
  });

  it('run() emits a snapshot of every branch whenever one changes (combineLatest), ending done', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const fast = cold('   -a--(f|)    ', events({ a: 'A' }));
      const fastSubs = '    ^---!       ';
      const slow = cold('   --b-----(f|)', events({ b: 'B' }));
      const slowSubs = '    ^-------!   ';
      const expected = '    wxy-z---(d|)';
      const values = {
        w: 'waiting | waiting: | waiting:',
        x: 'streaming | streaming:A | waiting:',
        y: 'streaming | streaming:A | streaming:B',
        z: 'streaming | done:"A" | streaming:B',
        d: 'done | done:"A" | done:"B"',
      };

      const transport = routedTransport({ fast: [fast], slow: [slow] });
      const group = parallel({
        fast: step('fast', () => ask('fast'), { transport }),
        slow: step('slow', () => ask('slow'), { transport }),
      });
      const picture = group
        .run('x')
        .pipe(map((state) => `${state.status} | ${show(state.branches.fast)} | ${show(state.branches.slow)}`));

      expectObservable(picture).toBe(expected, values);
      expectSubscriptions(fast.subscriptions).toBe(fastSubs);
      expectSubscriptions(slow.subscriptions).toBe(slowSubs);
    });
  });

  it('the done snapshot carries the record and the group timing', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ cold, expectObservable }) => {
      const fast = cold(' 10ms a 9ms (f|)', events({ a: 'A' }));
      const slow = cold(' 30ms a 9ms (f|)', events({ a: 'B' }));

      const transport = routedTransport({ fast: [fast], slow: [slow] });
      const group = parallel(
        { fast: step('fast', () => ask('fast'), { transport }), slow: step('slow', () => ask('slow'), { transport }) },
        { scheduler: testScheduler },
      );

      expectObservable(
        group.run('x').pipe(
          last(),
          map((state) => state.status === 'done' && { value: state.value, startedAt: state.startedAt, firstTokenAt: state.firstTokenAt, endedAt: state.endedAt }),
        ),
      ).toBe('40ms (v|)', { v: { value: { fast: 'A', slow: 'B' }, startedAt: 0, firstTokenAt: 10, endedAt: 40 } });
    });
  });

  it('fails fast: the first branch error errors the group and unsubscribes the others', () => {
    let error: unknown;
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new RxllmError('rate-limited', 'HTTP 429', { retryAfterMs: 1000 });
      const sentiment = cold('  300ms (af|)', events({ a: 'positive' }));
      const sentimentSubs = '   ^ 199ms !   ';
      const summary = cold<LlmEvent>('200ms #', undefined, failure);
      const summarySubs = '     ^ 199ms !   ';
      const keywords = cold('   600ms (af|)', events({ a: 'rx' }));
      const keywordsSubs = '    ^ 199ms !   ';
      const expected = '        200ms #     ';

      const analysis = parallel(contentSteps(routedTransport({ sentiment: [sentiment], summary: [summary], keywords: [keywords] })));

      expectObservable(analysis.value('text')).toBe(expected, undefined, failure);
      expectSubscriptions(sentiment.subscriptions).toBe(sentimentSubs);
      expectSubscriptions(summary.subscriptions).toBe(summarySubs);
      expectSubscriptions(keywords.subscriptions).toBe(keywordsSubs);
    });
    createTestScheduler().run(({ cold }) => {
      const failure = new RxllmError('rate-limited', 'HTTP 429', { retryAfterMs: 1000 });
      const ok = () => cold('300ms (af|)', events({ a: 'fine' }));
      const analysis = parallel(contentSteps(routedTransport({ sentiment: [ok()], summary: [cold<LlmEvent>('200ms #', undefined, failure)], keywords: [ok()] })));
      analysis.value('text').subscribe({ error: (e: unknown) => (error = e) });
    });
    // The error says which branch failed.
    expect(error).toMatchObject({ code: 'rate-limited', retryAfterMs: 1000, step: 'summary' });
  });

  it('a branch that completes without a value is a named error, not a silent empty completion', () => {
    const errors: RxllmError[] = [];
    createTestScheduler().run(({ cold, expectSubscriptions }) => {
      const summary = cold('  900ms (af|)', events({ a: 'Rx is fast.' }));
      const summarySubs = '   ^ 99ms !    ';
      const empty = cold<StepState<string>>('100ms |');
      const emptySubs = '     ^ 99ms !    ';

      const transport = routedTransport({ summary: [summary, summary] });
      const group = parallel({
        summary: step('summary', () => ask('summary'), { transport }),
        translation: { run: () => empty }, // a hand-written Runnable that breaks the contract
      });

      group.value('x').subscribe({ error: (e: RxllmError) => errors.push(e) });
      group.run('x').subscribe({ error: (e: RxllmError) => errors.push(e) });
      expectSubscriptions(summary.subscriptions).toBe([summarySubs, summarySubs]);
      expectSubscriptions(empty.subscriptions).toBe([emptySubs, emptySubs]);
    });
    expect(errors.map((e) => e.code)).toEqual(['incomplete-stream', 'incomplete-stream']);
    expect(errors[0]!.message).toMatchInlineSnapshot(
      `"parallel branch "translation" completed without a final value: its run() must end with a { status: 'done', value } state. If it can legitimately produce nothing, end it with a done state carrying a default value."`,
    );
  });

  it('unsubscribing cancels every branch', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const sentiment = cold('  300ms (af|)', events({ a: 'positive' }));
      const summary = cold('    900ms (af|)', events({ a: 'Rx is fast.' }));
      const keywords = cold('   600ms (af|)', events({ a: 'rx' }));
      const branchSubs = '      ^ 49ms !    ';
      const unsub = '           ^ 49ms !    ';

      const analysis = parallel(contentSteps(routedTransport({ sentiment: [sentiment], summary: [summary], keywords: [keywords] })));

      expectObservable(analysis.value('text'), unsub).toBe('');
      for (const branch of [sentiment, summary, keywords]) expectSubscriptions(branch.subscriptions).toBe(branchSubs);
    });
  });

  it('input$.pipe(switchMap(group.value)) cancels the previous input\'s whole group', () => {
    createTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const input = hot('         a 99ms b            ');
      const sentiment = cold('    300ms (af|)         ', events({ a: 'neutral' }));
      const summary = cold('      900ms (af|)         ', events({ a: 'S' }));
      const keywords = cold('     600ms (af|)         ', events({ a: 'K' }));
      const firstRunSubs = '      ^ 99ms !            ';
      const expected = '          100ms 900ms v       ';
      const transport = routedTransport({
        sentiment: [sentiment, sentiment],
        summary: [summary, summary],
        keywords: [keywords, keywords],
      });

      const analysis = parallel(contentSteps(transport));

      expectObservable(input.pipe(switchMap(analysis.value))).toBe(expected, {
        v: { sentiment: 'neutral', summary: 'S', keywords: 'K' },
      });
      expectSubscriptions(sentiment.subscriptions).toBe([firstRunSubs, '100ms ^ 299ms !']);
      expectSubscriptions(summary.subscriptions).toBe([firstRunSubs, '100ms ^ 899ms !']);
      expectSubscriptions(keywords.subscriptions).toBe([firstRunSubs, '100ms ^ 599ms !']);
    });
  });

  it('nests: a group is a Runnable, so it can be a branch of another group', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const transport = routedTransport({
        a: [cold('10ms (af|)', events({ a: 'A' }))],
        b: [cold('20ms (af|)', events({ a: 'B' }))],
        c: [cold('15ms (af|)', events({ a: 'C' }))],
      });
      const inner = parallel({ a: step('a', () => ask('a'), { transport }), b: step('b', () => ask('b'), { transport }) });
      const outer = parallel({ inner, c: step('c', () => ask('c'), { transport }) });

      const value: Observable<{ inner: { a: string; b: string }; c: string }> = outer.value('x');
      expectObservable(value).toBe('20ms (v|)', { v: { inner: { a: 'A', b: 'B' }, c: 'C' } });
    });
  });

  describe('with a deadline', () => {
    it('passes every branch the run\'s context, its deadline counted from subscribe (an earlier parent deadline wins)', () => {
      const testScheduler = createTestScheduler();
      let contexts: unknown[] = [];
      testScheduler.run(({ cold, hot, expectObservable }) => {
        const answer = (text: string) => cold('10ms (af|)', events({ a: text }));
        const transport = routedTransport({ fast: [answer('F1'), answer('F2')], slow: [answer('S1'), answer('S2')] });
        const group = parallel(
          {
            fast: step('fast', () => ask('fast'), { transport, scheduler: testScheduler }),
            slow: step('slow', () => ask('slow'), { transport, scheduler: testScheduler }),
          },
          { deadline: 1000, scheduler: testScheduler },
        );
        const runs = hot('100ms a 99ms b', { a: { attributes: { tenant: 'acme' } }, b: { deadline: 250 } });

        expectObservable(runs.pipe(mergeMap((context) => group.value('x', context)))).toBe('110ms a 99ms b', {
          a: { fast: 'F1', slow: 'S1' },
          b: { fast: 'F2', slow: 'S2' },
        });
        contexts = transport.contexts;
      });
      expect(contexts).toEqual([
        { step: 'fast', attributes: { tenant: 'acme' }, deadline: 1100, onServed: expect.any(Function) },
        { step: 'slow', attributes: { tenant: 'acme' }, deadline: 1100, onServed: expect.any(Function) },
        { step: 'fast', deadline: 250, onServed: expect.any(Function) },
        { step: 'slow', deadline: 250, onServed: expect.any(Function) },
      ]);
    });

    it('errors with timeout, naming the branch, when one is still running at the deadline, and cancels every branch', () => {
      const testScheduler = createTestScheduler();
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const fast = cold('  100ms (af|)', events({ a: 'F' }));
        const slow = cold('  300ms a 300ms (bf|)', events({ a: 'S', b: 'low' }));
        const slowSubs = '   ^ 499ms !';
        const transport = routedTransport({ fast: [fast], slow: [slow] });
        // A branch that is not a step still gets the deadline: the group holds every branch to it.
        const group = parallel(
          { fast: step('fast', () => ask('fast'), { transport }), slow: { run: () => step('inner', () => ask('slow'), { transport }).run('x') } },
          { deadline: 500, scheduler: testScheduler },
        );
        const late = new RxllmError(
          'timeout',
          `parallel branch "slow" did not finish by the run's deadline and was cancelled: it started with 500 ms left ` +
            `(deadline 500 on the scheduler's clock). ` +
            'Give the run a longer `deadline`, or make this step faster (a smaller model, a shorter answer).',
          { step: 'slow' },
        );

        expectObservable(group.run('x').pipe(map((state) => state.status))).toBe('w 99ms (ss) 196ms s 199ms #', { w: 'waiting', s: 'streaming' }, late);
        expectSubscriptions(slow.subscriptions).toBe(slowSubs);
      });
    });

    it('rejects a deadline that is not a positive number, and unknown options', () => {
      const transport = routedTransport({});
      expect(() => parallel(contentSteps(transport), { deadline: -1 })).toThrow(/parallel\(\): invalid options:\n✖ expected milliseconds from the start of a run/);
      expect(() => parallel(contentSteps(transport), { scheduler: {} as never })).toThrow(/expected a SchedulerLike/);
      expect(() => parallel(contentSteps(transport), { timeout: 5 } as never)).toThrow(/Unrecognized key: "timeout"/);
    });
  });

  it('infers the record type from the branches', () => {
    const transport = routedTransport({});
    const analysis = parallel(contentSteps(transport));
    const value: Observable<{ sentiment: 'positive' | 'negative' | 'neutral'; summary: string; keywords: string }> =
      analysis.value('text');
    // @ts-expect-error: the branches take a string
    analysis.value(42);
    expect(value).toBeDefined();
  });

  it('rejects an empty group or a branch that is not runnable, at construction', () => {
    expect(() => parallel({})).toThrowErrorMatchingInlineSnapshot(
      `"parallel() needs at least one branch: parallel({ sentiment, summary })."`,
    );
    expect(() => parallel({ a: EMPTY as never, b: 'text' as never })).toThrowErrorMatchingInlineSnapshot(
      `"parallel(): branches "a", "b" must be a step (or any object with a run(input) method)."`,
    );
  });

  it('value() lets its step branches ask for one JSON body each; run() streams them', () => {
    const sent: (boolean | null | undefined)[] = [];
    const transport = (request: LlmRequest) => {
      sent.push(request.stream);
      return of<LlmEvent[]>({ type: 'text', choice: 0, text: 'Hi' }, { type: 'finish', choice: 0, reason: 'stop' });
    };
    const group = parallel({ a: step('a', () => ask('a'), { transport }), b: step('b', () => ask('b'), { transport }) });
    group.value('x').subscribe();
    expect(sent).toEqual([false, false]);
    group.run('x').subscribe();
    expect(sent.slice(2)).toEqual([undefined, undefined]);
  });

  it('value(): a branch that fails as it starts fails the group at once, and the branches after it are never started', () => {
    const failure = new RxllmError('invalid-request', 'bad request');
    const models: string[] = [];
    const transport = (request: LlmRequest): Observable<LlmEvent> => {
      models.push(request.model);
      if (request.model === 'summary') throw failure; // a transport that throws on the call itself
      return of<LlmEvent[]>({ type: 'text', choice: 0, text: 'ok' }, { type: 'finish', choice: 0, reason: 'stop' });
    };
    const group = parallel({
      sentiment: step('sentiment', () => ask('sentiment'), { transport }),
      summary: step('summary', () => ask('summary'), { transport }),
      keywords: step('keywords', () => ask('keywords'), { transport }),
    });
    let error: unknown;
    group.value('x').subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toMatchObject({ code: 'invalid-request', step: 'summary' });
    expect(models).toEqual(['sentiment', 'summary']);
  });

  it('value() joins step branches and hand-written Runnables alike, the record in the branches\' order', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const transport = routedTransport({ summary: [cold('300ms (af|)', events({ a: 'Rx is fast.' }))] });
      const custom = cold<StepState<string>>('100ms a 100ms (b|)', {
        a: { step: 'label', status: 'waiting', textSoFar: '', reask: 0, startedAt: 0 },
        b: { step: 'label', status: 'done', textSoFar: 'x', reask: 0, startedAt: 0, value: 'tech', endedAt: 201 },
      });
      const group = parallel({ label: { run: () => custom }, summary: step('summary', () => ask('summary'), { transport }) });
      expectObservable(group.value('x')).toBe('300ms (r|)', { r: { label: 'tech', summary: 'Rx is fast.' } });
    });
  });
});
