import { EMPTY, last, map, mergeMap, type Observable, of, switchMap, throwError } from 'rxjs';
import type { TestScheduler } from 'rxjs/testing';
import type { RequestContext } from '../../src/core/context';
import { z } from 'zod';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { graph, type GraphState } from '../../src/pipeline/graph';
import { withMiddleware } from '../../src/core/transport';
import { retry } from '../../src/middleware/retry';
import type { Progress } from '../../src/core/Progress';
import { step } from '../../src/pipeline/step';
import type { StepState } from '../../src/pipeline/StepState';
import { ask, createTestScheduler, events, routedTransport } from './fakes';

type Label = 'positive' | 'negative';
type Analysis = { classify: Label; summary: string; draft: string; reply: string };

/**
 * classify ──► draft ──┐
 * summary ─────────────┴──► reply
 * Every step's request names its route (the model) and carries its inputs in the prompt.
 */
function analysisGraph(transport: ReturnType<typeof routedTransport>, onError?: 'fail-fast' | 'continue') {
  const classify = step('classify', (text: string) => ask('classify', text), { transport, output: z.enum(['positive', 'negative']) });
  const summary = step('summary', (text: string) => ask('summary', text), { transport });
  const draft = step('draft', (input: { text: string; label: Label }) => ask('draft', `${input.label}: ${input.text}`), { transport });
  const reply = step('reply', (input: { draft: string; summary: string }) => ask('reply', `${input.draft} | ${input.summary}`), {
    transport,
  });
  return graph<string, Analysis>({
    nodes: {
      classify,
      summary,
      draft: { after: ['classify'], run: (text, { classify }) => draft.run({ text, label: classify }) },
      reply: { after: ['draft', 'summary'], run: (_, { draft, summary }) => reply.run({ draft, summary }) },
    },
    ...(onError ? { onError } : {}),
  });
}

const statuses = (state: GraphState<Record<string, unknown>>) =>
  `${state.status}: ${Object.entries(state.nodes)
    .map(([node, nodeState]) => `${node}=${nodeState.status}`)
    .join(' ')}`;

describe('graph', () => {
  it('starts each node at the frame its last input finishes; wall time = the critical path', () => {
    let sent: { model: string; messages: { content?: unknown }[] }[] = [];
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const classify = cold('  300ms (af|)', events({ a: 'positive' }));
      const classifySubs = '   ^ 299ms !   ';
      const summary = cold('   900ms (af|)', events({ a: 'Short.' }));
      const summarySubs = '    ^ 899ms !   ';
      const draft = cold('     200ms (af|)', events({ a: 'Thanks!' }));
      const draftSubs = '      300ms ^ 199ms !';
      const reply = cold('     100ms (af|)', events({ a: 'Dear reader' }));
      const replySubs = '      900ms ^ 99ms !';
      const expected = '       1000ms (v|)';

      const transport = routedTransport({ classify: [classify], summary: [summary], draft: [draft], reply: [reply] });
      const pipeline = analysisGraph(transport);

      expectObservable(pipeline.value('I love it')).toBe(expected, {
        v: { classify: 'positive', summary: 'Short.', draft: 'Thanks!', reply: 'Dear reader' },
      });
      expectSubscriptions(classify.subscriptions).toBe(classifySubs);
      expectSubscriptions(summary.subscriptions).toBe(summarySubs);
      expectSubscriptions(draft.subscriptions).toBe(draftSubs);
      expectSubscriptions(reply.subscriptions).toBe(replySubs);
      sent = transport.requests;
    });
    // Each node received its inputs' final values.
    expect(sent.map((request) => `${request.model} <- ${String(request.messages[0]!.content)}`)).toEqual([
      'classify <- I love it',
      'summary <- I love it',
      'draft <- positive: I love it',
      'reply <- Thanks! | Short.',
    ]);
  });

  it('ends with a timeline (start, first token, end per node) and the critical path', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ cold, expectObservable }) => {
      const classify = cold(' 100ms a 199ms (f|)', events({ a: 'negative' }));
      const summary = cold('  50ms a 849ms (f|) ', events({ a: 'Short.' }));
      const draft = cold('    20ms a 179ms (f|) ', events({ a: 'Sorry.' }));
      const reply = cold('    10ms a 89ms (f|)  ', events({ a: 'Dear reader' }));

      const pipeline = analysisGraph(routedTransport({ classify: [classify], summary: [summary], draft: [draft], reply: [reply] }));
      const final = pipeline.run('text').pipe(
        last(),
        map((state) => ({
          status: state.status,
          startedAt: state.startedAt,
          firstTokenAt: state.firstTokenAt,
          endedAt: 'endedAt' in state ? state.endedAt : undefined,
          timeline: state.timeline,
          criticalPath: state.status === 'done' ? state.criticalPath : undefined,
        })),
      );

      expectObservable(final).toBe('1000ms (s|)', {
        s: {
          status: 'done',
          startedAt: 0,
          firstTokenAt: 50,
          endedAt: 1000,
          timeline: [
            { node: 'classify', after: [], status: 'done', startedAt: 0, firstTokenAt: 100, endedAt: 300 },
            { node: 'summary', after: [], status: 'done', startedAt: 0, firstTokenAt: 50, endedAt: 900 },
            { node: 'draft', after: ['classify'], status: 'done', startedAt: 300, firstTokenAt: 320, endedAt: 500 },
            { node: 'reply', after: ['draft', 'summary'], status: 'done', startedAt: 900, firstTokenAt: 910, endedAt: 1000 },
          ],
          criticalPath: ['summary', 'reply'],
        },
      });
    });
  });

  it('emits a snapshot per node change: pending → waiting → streaming → done', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const first = cold('  10ms a 9ms (f|)', events({ a: 'A' }));
      const second = cold('          10ms (af|)', events({ a: 'B' }));
      const expected = '    a 9ms b 9ms (cd) 6ms (ef|)';
      const values = {
        a: 'waiting: first=waiting second=pending',
        b: 'streaming: first=streaming second=pending',
        c: 'streaming: first=done second=pending',
        d: 'streaming: first=done second=waiting',
        e: 'streaming: first=done second=streaming',
        f: 'done: first=done second=done',
      };

      const transport = routedTransport({ first: [first], second: [second] });
      const firstStep = step('first', () => ask('first'), { transport });
      const secondStep = step('second', (input: string) => ask('second', input), { transport });
      const pipeline = graph<string, { first: string; second: string }>({
        nodes: { first: firstStep, second: { after: ['first'], run: (_, { first }) => secondStep.run(first) } },
      });

      expectObservable(pipeline.run('x').pipe(map(statuses))).toBe(expected, values);
    });
  });

  it('copies a step node\'s textSoFar into its node state, for live display', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const only = cold('-a-b-(f|)', events({ a: 'Hel', b: 'lo' }));
      const pipeline = graph({ nodes: { only: step('only', () => ask('only'), { transport: routedTransport({ only: [only] }) }) } });

      const texts = pipeline.run('x').pipe(map((state) => (state.nodes.only as { textSoFar?: string }).textSoFar ?? '-'));
      expectObservable(texts).toBe('wa-b-(c|)', { w: '-', a: 'Hel', b: 'Hello', c: 'Hello' });
    });
  });

  it('runs each node once per run, however many nodes wait for it', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const base = cold('   100ms (af|)', events({ a: 'base' }));
      const baseSubs = '    ^ 99ms !    ';
      const left = cold('   50ms (af|) ', events({ a: 'L' }));
      const right = cold('  70ms (af|) ', events({ a: 'R' }));
      const both = cold('   10ms (af|) ', events({ a: 'LR' }));

      const transport = routedTransport({ base: [base], left: [left], right: [right], both: [both] });
      const on = (model: string) => step(model, (input: string) => ask(model, input), { transport });
      const pipeline = graph<string, { base: string; left: string; right: string; both: string }>({
        nodes: {
          // Declared dependents-first on purpose: order must not matter.
          both: { after: ['left', 'right', 'base'], run: (_, { left, right }) => on('both').run(left + right) },
          left: { after: ['base'], run: (_, { base }) => on('left').run(base) },
          right: { after: ['base'], run: (_, { base }) => on('right').run(base) },
          base: on('base'),
        },
      });

      expectObservable(pipeline.value('x')).toBe('180ms (v|)', { v: { base: 'base', left: 'L', right: 'R', both: 'LR' } });
      expectSubscriptions(base.subscriptions).toBe(baseSubs);
      expectSubscriptions(left.subscriptions).toBe('100ms ^ 49ms !');
      expectSubscriptions(right.subscriptions).toBe('100ms ^ 69ms !');
      expectSubscriptions(both.subscriptions).toBe('170ms ^ 9ms !');
    });
  });

  it('runs a node that ends synchronously once too, whatever the declaration order', () => {
    const base = jest.fn(() => of<Progress<string>>({ status: 'done', value: 'base', startedAt: 0, endedAt: 0 }));
    let result: unknown;
    createTestScheduler().run(({ cold }) => {
      const transport = routedTransport({ left: [cold('10ms (af|)', events({ a: 'L' }))] });
      const left = step('left', (input: string) => ask('left', input), { transport });
      graph<string, { left: string; right: string; base: string }>({
        nodes: {
          left: { after: ['base'], run: (_, inputs) => left.run(inputs.base) },
          right: { after: ['base'], run: (_, inputs) => of<Progress<string>>({ status: 'done', value: inputs.base, startedAt: 0, endedAt: 0 }) },
          base: { run: base },
        },
      })
        .value('x')
        .subscribe((value) => (result = value));
    });
    expect(base).toHaveBeenCalledTimes(1);
    expect(result).toEqual({ left: 'L', right: 'base', base: 'base' });
  });

  it('shares nothing between runs: each subscription runs every node again', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const only = cold('10ms (af|)', events({ a: 'A' }));
      const pipeline = graph({ nodes: { only: step('only', () => ask('only'), { transport: routedTransport({ only: [only, only] }) }) } });
      const value$ = pipeline.value('x');

      expectObservable(value$).toBe('10ms (v|)', { v: { only: 'A' } });
      expectObservable(value$).toBe('10ms (v|)', { v: { only: 'A' } });
      expectSubscriptions(only.subscriptions).toBe(['^ 9ms !', '^ 9ms !']);
    });
  });

  describe('on a node error', () => {
    it('fails fast by default: errors with the node\'s error and unsubscribes every running node', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const failure = new RxllmError('server', 'HTTP 500');
        const classify = cold('  100ms (af|)   ', events({ a: 'positive' }));
        const summary = cold<LlmEvent>('200ms #', undefined, failure);
        const summarySubs = '    ^ 199ms !     ';
        const draft = cold('     200ms (af|)   ', events({ a: 'Thanks!' }));
        const draftSubs = '      100ms ^ 99ms !';
        const reply = cold('     100ms (af|)   ', events({ a: 'never sent' }));

        const transport = routedTransport({ classify: [classify], summary: [summary], draft: [draft], reply: [reply] });

        expectObservable(analysisGraph(transport).value('text')).toBe('200ms #', undefined, failure);
        expectSubscriptions(summary.subscriptions).toBe(summarySubs);
        expectSubscriptions(draft.subscriptions).toBe(draftSubs);
        expectSubscriptions(reply.subscriptions).toBe([]);
      });
    });

    it('fail-fast run() emits a failed snapshot naming the node, then the error', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        const failure = new RxllmError('server', 'HTTP 500');
        const transport = routedTransport({
          classify: [cold('100ms (af|)', events({ a: 'positive' }))],
          summary: [cold<LlmEvent>('200ms #', undefined, failure)],
          draft: [cold('200ms (af|)', events({ a: 'Thanks!' }))],
        });
        const expected = '(..) 96ms (...) 95ms (f#)';

        const failed = analysisGraph(transport)
          .run('text')
          .pipe(map((state) => (state.status === 'failed' ? { errors: state.errors, criticalPath: state.criticalPath } : '.')));
        expectObservable(failed).toBe(expected, { '.': '.', f: { errors: [{ node: 'summary', error: failure }], criticalPath: ['summary'] } }, failure);
      });
    });

    it("with onError: 'continue', independent nodes finish, dependents are skipped, partial results reported", () => {
      let final: GraphState<Analysis> | undefined;
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const failure = new RxllmError('server', 'HTTP 500');
        const classify = cold('  100ms (af|)   ', events({ a: 'positive' }));
        const summary = cold<LlmEvent>('200ms #', undefined, failure);
        const draft = cold('     400ms (af|)   ', events({ a: 'Thanks!' }));
        const draftSubs = '      100ms ^ 399ms !';
        const reply = cold('     100ms (af|)   ', events({ a: 'never sent' }));

        const transport = routedTransport({
          classify: [classify, classify],
          summary: [summary, summary],
          draft: [draft, draft],
          reply: [reply],
        });
        const pipeline = analysisGraph(transport, 'continue');

        pipeline.run('text').pipe(last()).subscribe((state) => (final = state));
        expectObservable(pipeline.value('text')).toBe('500ms #', undefined, failure);
        expectSubscriptions(draft.subscriptions).toBe([draftSubs, draftSubs]);
        expectSubscriptions(reply.subscriptions).toBe([]);
      });
      expect(final).toMatchObject({
        status: 'failed',
        endedAt: 500,
        values: { classify: 'positive', draft: 'Thanks!' },
        nodes: {
          summary: { status: 'failed', startedAt: 0, endedAt: 200 },
          reply: { status: 'skipped', because: ['summary'] },
        },
        errors: [{ node: 'summary' }],
        criticalPath: ['classify', 'draft'],
      });
    });

    it("with onError: 'continue', a skip propagates: dependents of a skipped node are skipped too", () => {
      let final: GraphState<Record<string, unknown>> | undefined;
      createTestScheduler().run(({ cold }) => {
        const transport = routedTransport({ ok: [cold('10ms (af|)', events({ a: 'ok' }))] });
        const pipeline = graph<string, { bad: string; mid: string; end: string; ok: string }>({
          onError: 'continue',
          nodes: {
            bad: { run: () => throwError(() => new RxllmError('timeout', 'too slow')) },
            mid: { after: ['bad'], run: () => throwError(() => new Error('never runs')) },
            end: { after: ['mid', 'ok'], run: () => throwError(() => new Error('never runs')) },
            ok: step('ok', () => ask('ok'), { transport }),
          },
        });
        pipeline.run('x').pipe(last()).subscribe((state) => (final = state));
      });
      expect(final?.nodes).toMatchObject({
        bad: { status: 'failed' },
        mid: { status: 'skipped', because: ['bad'] },
        end: { status: 'skipped', because: ['mid'] },
        ok: { status: 'done', value: 'ok' },
      });
    });

    it('a node that completes without a done state fails with a named incomplete-stream error', () => {
      let error: RxllmError | undefined;
      createTestScheduler().run(({ cold }) => {
        const silent = cold<StepState<string>>('10ms |');
        graph({ nodes: { silent: { run: () => silent } } })
          .value('x')
          .subscribe({ error: (e: RxllmError) => (error = e) });
      });
      expect(error?.code).toBe('incomplete-stream');
      expect(error?.message).toMatch(/^graph node "silent" completed without a final value/);
    });
  });

  describe('cancellation', () => {
    it('unsubscribing cancels every running node', () => {
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const classify = cold('  30ms (af|)', events({ a: 'positive' }));
        const summary = cold('   900ms (af|)', events({ a: 'Short.' }));
        const draft = cold('     200ms (af|)', events({ a: 'Thanks!' }));
        const unsub = '          ^ 49ms !   ';

        const transport = routedTransport({ classify: [classify], summary: [summary], draft: [draft] });

        expectObservable(analysisGraph(transport).value('text'), unsub).toBe('');
        expectSubscriptions(classify.subscriptions).toBe('^ 29ms !');
        expectSubscriptions(summary.subscriptions).toBe('^ 49ms !');
        expectSubscriptions(draft.subscriptions).toBe('30ms ^ 19ms !');
      });
    });

    it("input$.pipe(switchMap(pipeline.value)) cancels the previous input's whole graph", () => {
      createTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
        const input = hot('   a 149ms b');
        const classify = cold('100ms (af|)', events({ a: 'positive' }));
        const summary = cold(' 900ms (af|)', events({ a: 'Short.' }));
        const draft = cold('   200ms (af|)', events({ a: 'Thanks!' }));
        const reply = cold('   100ms (af|)', events({ a: 'Dear reader' }));
        const expected = '    150ms 1000ms v';

        const transport = routedTransport({
          classify: [classify, classify],
          summary: [summary, summary],
          draft: [draft, draft],
          reply: [reply],
        });
        const pipeline = analysisGraph(transport);

        expectObservable(input.pipe(switchMap(pipeline.value))).toBe(expected, {
          v: { classify: 'positive', summary: 'Short.', draft: 'Thanks!', reply: 'Dear reader' },
        });
        expectSubscriptions(classify.subscriptions).toBe(['^ 99ms !', '150ms ^ 99ms !']);
        expectSubscriptions(summary.subscriptions).toBe(['^ 149ms !', '150ms ^ 899ms !']);
        expectSubscriptions(draft.subscriptions).toBe(['100ms ^ 49ms !', '250ms ^ 199ms !']);
        expectSubscriptions(reply.subscriptions).toBe('1050ms ^ 99ms !');
      });
    });
  });

  describe('with a deadline', () => {
    /** summary (1.5 s) ──► reply; reply passes the run's context on to its step. */
    function deadlineGraph(transport: ReturnType<typeof routedTransport>, config: { deadline?: number; onError?: 'continue' }, scheduler: TestScheduler) {
      const summary = step('summary', (text: string) => ask('summary', text), { transport, scheduler });
      const reply = step('reply', (summary: string) => ask('reply', summary), { transport, scheduler });
      return graph<string, { summary: string; reply: string }>({
        nodes: {
          summary,
          reply: { after: ['summary'], run: (_, { summary }, context) => reply.run(summary, context) },
        },
        scheduler,
        ...config,
      });
    }

    it('gives a node that starts at 1.5 s of a 2 s deadline a request with 0.5 s left', () => {
      const testScheduler = createTestScheduler();
      const left: Record<string, number> = {};
      testScheduler.run(({ cold, expectObservable }) => {
        const routed = routedTransport({
          summary: [cold('1500ms (af|)', events({ a: 'Short.' }))],
          reply: [cold('300ms (af|)', events({ a: 'Dear reader' }))],
        });
        // What each request is told remains, read on the scheduler's clock when it is sent.
        const transport = Object.assign((request: LlmRequest, context?: RequestContext) => {
          left[request.model] = context!.deadline! - testScheduler.now();
          return routed(request, context);
        }, routed);

        const pipeline = deadlineGraph(transport, { deadline: 2000 }, testScheduler);
        expectObservable(pipeline.value('text')).toBe('1800ms (v|)', { v: { summary: 'Short.', reply: 'Dear reader' } });
      });
      expect(left).toEqual({ summary: 2000, reply: 500 });
    });

    it('through retry(): a failed request whose next attempt could not start before the run\'s deadline is not retried', () => {
      const testScheduler = createTestScheduler();
      let caught: unknown;
      let sent: LlmRequest[] = [];
      testScheduler.run(({ cold }) => {
        const overloaded = new RxllmError('server', 'HTTP 503: overloaded', { status: 503, tokensEmitted: false });
        const failing = routedTransport({
          summary: [cold('1500ms (af|)', events({ a: 'Short.' }))],
          // 1850 ms: the reply's first attempt fails; a 200 ms backoff would start the next at 2050, past the 2 s deadline.
          reply: [cold('350ms #', undefined, overloaded), cold('100ms (af|)', events({ a: 'never sent' }))],
        });
        sent = failing.requests;
        const llm = withMiddleware(failing, retry({ maxRetries: 3, backoff: { initialMs: 200, jitter: 0 }, scheduler: testScheduler }));
        deadlineGraph(llm as typeof failing, { deadline: 2000 }, testScheduler)
          .value('text')
          .subscribe({ error: (error: unknown) => (caught = { error, at: testScheduler.now() }) });
      });
      const { error, at } = caught as { error: RxllmError; at: number };
      expect(at).toBe(1850);
      expect(error).toMatchObject({ code: 'server', status: 503, limit: 'deadline', step: 'reply' });
      expect(error.message).toContain('deadline');
      expect(sent.map((request) => request.model)).toEqual(['summary', 'reply']); // no second attempt
    });

    it('counts the deadline from each run\'s start, keeps an earlier one from the parent, and passes the rest of the context on', () => {
      const testScheduler = createTestScheduler();
      let contexts: unknown[] = [];
      testScheduler.run(({ cold, hot, expectObservable }) => {
        const transport = routedTransport({
          summary: [cold('10ms (af|)', events({ a: 'S1' })), cold('10ms (af|)', events({ a: 'S2' }))],
          reply: [cold('10ms (af|)', events({ a: 'R1' })), cold('10ms (af|)', events({ a: 'R2' }))],
        });
        const pipeline = deadlineGraph(transport, { deadline: 2000 }, testScheduler);
        const runs = hot('100ms a 99ms b', { a: undefined, b: { lane: 'background', deadline: 700 } });

        expectObservable(runs.pipe(mergeMap((context) => pipeline.value('text', context)))).toBe('120ms a 99ms b', {
          a: { summary: 'S1', reply: 'R1' },
          b: { summary: 'S2', reply: 'R2' },
        });
        contexts = transport.contexts;
      });
      expect(contexts).toEqual([
        { step: 'summary', deadline: 2100, onServed: expect.any(Function) },
        { step: 'reply', deadline: 2100, onServed: expect.any(Function) },
        { step: 'summary', lane: 'background', deadline: 700, onServed: expect.any(Function) },
        { step: 'reply', lane: 'background', deadline: 700, onServed: expect.any(Function) },
      ]);
    });

    it('fails a node still running at the deadline with timeout, cancelling its request (fail-fast errors the run)', () => {
      const testScheduler = createTestScheduler();
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const summary = cold('  1500ms (af|)', events({ a: 'Short.' }));
        const reply = cold('    1000ms (af|)', events({ a: 'too late' }));
        const replySubs = '     1500ms ^ 499ms !';
        const late = new RxllmError(
          'timeout',
          `graph node "reply" did not finish by the run's deadline and was cancelled: it started with 500 ms left ` +
            `(deadline 2000 on the scheduler's clock). ` +
            'Give the run a longer `deadline`, or make this step faster (a smaller model, a shorter answer).',
          { step: 'reply' },
        );

        const pipeline = deadlineGraph(routedTransport({ summary: [summary], reply: [reply] }), { deadline: 2000 }, testScheduler);
        expectObservable(pipeline.value('text')).toBe('2000ms #', undefined, late);
        expectSubscriptions(reply.subscriptions).toBe(replySubs);
      });
    });

    it("with onError: 'continue', the late node fails, its dependents are skipped, finished nodes keep their values", () => {
      const testScheduler = createTestScheduler();
      let final: GraphState<{ summary: string; reply: string }> | undefined;
      testScheduler.run(({ cold }) => {
        const transport = routedTransport({
          summary: [cold('2500ms (af|)', events({ a: 'Short.' }))],
          reply: [cold('10ms (af|)', events({ a: 'never sent' }))],
        });
        deadlineGraph(transport, { deadline: 2000, onError: 'continue' }, testScheduler)
          .run('text')
          .pipe(last())
          .subscribe((state) => (final = state));
      });
      expect(final).toMatchObject({
        status: 'failed',
        endedAt: 2000,
        nodes: { summary: { status: 'failed', startedAt: 0, endedAt: 2000 }, reply: { status: 'skipped', because: ['summary'] } },
        errors: [{ node: 'summary', error: { code: 'timeout', step: 'summary' } }],
      });
    });

    it('starts no node once the deadline has passed: each fails with timeout and nothing is sent', () => {
      const testScheduler = createTestScheduler();
      let final: GraphState<Record<string, unknown>> | undefined;
      let sent: unknown[] = [];
      testScheduler.run(({ cold, hot, expectObservable }) => {
        const transport = routedTransport({ summary: [cold('10ms (af|)', events({ a: 'S' }))], other: [cold('10ms (af|)', events({ a: 'O' }))] });
        const summary = step('summary', () => ask('summary'), { transport, scheduler: testScheduler });
        const other = step('other', () => ask('other'), { transport, scheduler: testScheduler });
        const pipeline = graph({ nodes: { summary, other }, onError: 'continue', scheduler: testScheduler });
        const notStarted = new RxllmError(
          'timeout',
          `graph node "summary" was not started: the run's deadline had passed 50 ms before it was ready ` +
            `(deadline 50 on the scheduler's clock), so nothing was sent. ` +
            'Give the run a longer `deadline`, or make the steps before this one faster.',
          { step: 'summary' },
        );

        // A parent whose deadline is already over hands the graph its context.
        const late$ = hot('100ms (x|)').pipe(mergeMap(() => pipeline.run('text', { deadline: 50 })));
        late$.pipe(last()).subscribe((state) => (final = state));
        expectObservable(hot('100ms x').pipe(mergeMap(() => pipeline.value('text', { deadline: 50 })))).toBe('100ms #', undefined, notStarted);
        sent = transport.requests;
      });
      expect(sent).toEqual([]);
      expect(final).toMatchObject({
        status: 'failed',
        nodes: {
          summary: { status: 'failed', startedAt: 100, endedAt: 100, error: { code: 'timeout' } },
          other: { status: 'failed', startedAt: 100, endedAt: 100, error: { code: 'timeout', step: 'other' } },
        },
      });
    });

    it('calls a node that waits for nothing as a Runnable (context second), and a dependent node with the context third', () => {
      const testScheduler = createTestScheduler();
      const seen: unknown[][] = [];
      testScheduler.run(({ expectObservable }) => {
        const done = (value: string): Observable<Progress<string>> => of({ status: 'done', value, startedAt: 0, endedAt: 0 });
        const pipeline = graph<string, { first: string; second: string }>({
          nodes: {
            first: { run: (...args: unknown[]) => (seen.push(['first', ...args]), done('1')) },
            second: { after: ['first'], run: (...args: unknown[]) => (seen.push(['second', ...args]), done('2')) },
          },
          deadline: 1000,
          scheduler: testScheduler,
        });
        expectObservable(pipeline.value('in', { lane: 'interactive' })).toBe('(v|)', { v: { first: '1', second: '2' } });
      });
      const context = { lane: 'interactive', deadline: 1000 };
      expect(seen).toEqual([
        ['first', 'in', context, context],
        ['second', 'in', { first: '1' }, context],
      ]);
    });

    it('rejects a deadline that is not a positive number, and a scheduler that cannot schedule', () => {
      const node = { run: () => EMPTY };
      expect(messageOf(() => graph({ nodes: { a: node }, deadline: 0 }))).toMatchInlineSnapshot(`
        "graph(): invalid options:
        ✖ expected milliseconds from the start of a run (a number > 0)
          → at deadline"
      `);
      expect(() => graph({ nodes: { a: node }, scheduler: { now: () => 0 } as never })).toThrow(/expected a SchedulerLike/);
      expect(() => graph({ nodes: { a: node }, deadlin: 5 } as never)).toThrow(/Unrecognized key: "deadlin"/);
    });
  });

  describe('building', () => {
    const node = { run: () => throwError(() => new Error('not run')) };

    it('rejects unknown names, with "Did you mean …?" for a near miss', () => {
      const build = () =>
        graph({ nodes: { classify: node, summary: node, reply: { after: ['clasify', 'summary', 'translation'], run: node.run } } } as never);
      expect(build).toThrow(expect.objectContaining({ code: 'invalid-config' }));
      expect(messageOf(build)).toMatchInlineSnapshot(`
        "Invalid graph (nodes: classify, summary, reply):
          ✖ node "reply" is after "clasify", which is not a node. Did you mean "classify"?
          ✖ node "reply" is after "translation", which is not a node."
      `);
    });

    it('rejects cycles, naming them', () => {
      const build = () =>
        graph({
          nodes: {
            a: { after: ['c'], run: node.run },
            b: { after: ['a'], run: node.run },
            c: { after: ['b'], run: node.run },
            d: { after: ['d'], run: node.run },
            e: node,
          },
        } as never);
      expect(build).toThrow(expect.objectContaining({ code: 'invalid-config' }));
      expect(messageOf(build)).toMatchInlineSnapshot(`
        "Invalid graph (nodes: a, b, c, d, e):
          ✖ nodes wait for each other in a cycle: a → c → b → a. Remove one of these \`after\` entries.
          ✖ node "d" is after itself."
      `);
    });

    it('rejects an empty graph, a node without run, and a bad onError', () => {
      expect(messageOf(() => graph({ nodes: {} }))).toMatchInlineSnapshot(
        `"graph() needs at least one node: graph({ nodes: { summary, reply: { after: [...], run } } })."`,
      );
      expect(messageOf(() => graph({ nodes: { a: { after: ['b'] }, b: node } } as never))).toMatchInlineSnapshot(`
        "Invalid graph (nodes: a, b):
          ✖ node "a" has no run function: give it { run } or pass a step."
      `);
      expect(messageOf(() => graph({ nodes: { a: node }, onError: 'ignore' } as never))).toMatchInlineSnapshot(
        `"graph(): \`onError\` must be 'fail-fast' or 'continue', got "ignore"."`,
      );
    });

    it('types after names and inputs from the record type', () => {
      const transport = routedTransport({});
      const summary = step('summary', (text: string) => ask(text), { transport });
      const pipeline = graph<string, { summary: string; title: string }>({
        nodes: {
          summary,
          title: { after: ['summary'], run: (_, { summary: text }) => summary.run(text) },
        },
      });
      const value: Observable<{ summary: string; title: string }> = pipeline.value('text');
      expect(() =>
        graph<string, { summary: string; title: string }>({
          // @ts-expect-error: 'sumary' is not a node
          nodes: { summary, title: { after: ['sumary'], run: (_, { summary: text }) => summary.run(text) } },
        }),
      ).toThrow(/Did you mean "summary"/);
      expect(value).toBeDefined();
    });
  });
});

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}
