import { lastValueFrom, mergeMap, tap, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RequestContext } from '../../src/core/context';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { withMiddleware } from '../../src/core/transport';
import { timeouts } from '../../src/middleware/timeouts';
import { startSimulatorServer, type SimulatorServer } from '../../src/node/simulatorServer';
import { finishEvent, reasoningEvent, textEvent, usageEvent } from '../../src/testing/events';
import { sseTransport } from '../../src/transport/sse';
import { createTestScheduler } from '../helpers/marbles';
import { expectNotSentPastDeadline, timeoutErrors } from '../helpers/timeLimits';
import { waitFor } from '../helpers/waitFor';

const request: LlmRequest = { model: 'draft', messages: [{ role: 'user', content: 'hi' }] };
const values: Record<string, LlmEvent> = {
  a: textEvent('Hel'),
  b: textEvent('lo'),
  r: reasoningEvent('hmm'),
  u: usageEvent({ prompt_tokens: 1, completion_tokens: 2 }),
  f: finishEvent('stop'),
};

describe('timeouts', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  it('errors with timeout naming the limit and the step when the first token is late, and aborts the request', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold<LlmEvent>('  150ms a-b|', values);
      const upstreamSubs = '   ^ 99ms !   '; // `^` takes one frame, hence 99ms
      const expected = '       100ms #    ';

      const llm = withMiddleware(() => upstream, timeouts({ firstToken: 100 }));
      expectObservable(llm(request)).toBe(expected, undefined, timeoutErrors.firstToken(100));
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('times a non-streamed request (stream: false) only by total: the whole answer arrives at once, after the first-token and idle limits', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const upstream = cold<LlmEvent>('  300ms (ab|)', values);
      const llm = withMiddleware(() => upstream, timeouts({ firstToken: 100, idle: 50, total: 1000 }));
      expectObservable(llm({ ...request, stream: false })).toBe('300ms (ab|)', values);
      // The same answer streamed is late for its first token.
      expectObservable(llm(request)).toBe('100ms #', undefined, timeoutErrors.firstToken(100));
    });
  });

  it('still ends a non-streamed request at its total limit', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const upstream = cold<LlmEvent>('  300ms (ab|)', values);
      const llm = withMiddleware(() => upstream, timeouts({ firstToken: 100, total: 200 }));
      expectObservable(llm({ ...request, stream: false })).toBe('200ms #', undefined, timeoutErrors.total(200));
    });
  });

  it('passes a stream whose first content arrives in time through unchanged', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold<LlmEvent>('  99ms a 199ms b 9ms (f|)', values);
      const upstreamSubs = '   ^ 308ms !               ';
      const expected = '       99ms a 199ms b 9ms (f|)';

      expectObservable(withMiddleware(() => upstream, timeouts({ firstToken: 100, total: 1000 }))(request)).toBe(expected, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('counts only content events for the first token: usage and finish do not stop the clock, reasoning does', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const late = cold<LlmEvent>('      50ms u 99ms a|', values);
      const lateSubs = '       ^ 99ms !      ';
      const reasoning = cold<LlmEvent>(' 50ms r 99ms a|', values);
      const reasoningSubs = '  ^ 150ms !     ';

      const guard = timeouts({ firstToken: 100 });
      expectObservable(guard(() => late)(request, { step: 'summary' })).toBe('50ms u 49ms #', values, timeoutErrors.firstToken(100, { step: 'summary' }));
      expectObservable(guard(() => reasoning)(request, { step: 'summary' })).toBe('50ms r 99ms a|', values);
      expectSubscriptions(late.subscriptions).toBe(lateSubs);
      expectSubscriptions(reasoning.subscriptions).toBe(reasoningSubs);
    });
  });

  it('fires idle when the gap after a token is too long, with the partial text and tokensEmitted', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold<LlmEvent>('  10ms a 29ms b 99ms f|', values);
      const upstreamSubs = '   ^ 89ms !              '; // last event b at 40, limit 50
      const expected = '       10ms a 29ms b 49ms # ';

      expectObservable(withMiddleware(() => upstream, timeouts({ idle: 50 }))(request)).toBe(
        expected,
        values,
        timeoutErrors.idle(50, { tokensEmitted: true, partialText: 'Hello' }),
      );
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('does not run the idle clock before the first token (that is firstToken’s job)', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const upstream = cold<LlmEvent>('  200ms a 40ms b|', values);
      expectObservable(withMiddleware(() => upstream, timeouts({ idle: 50 }))(request)).toBe('200ms a 40ms b|', values);
    });
  });

  it('fires total on a stream that keeps sending but never ends', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold<LlmEvent>('  a 9ms a 9ms a 9ms a 9ms a 9ms a', values);
      const upstreamSubs = '   ^ 34ms !                         ';
      const expected = '       a 9ms a 9ms a 9ms a 4ms #      ';

      expectObservable(withMiddleware(() => upstream, timeouts({ total: 35, idle: 20 }))(request)).toBe(
        expected,
        values,
        timeoutErrors.total(35, { tokensEmitted: true, partialText: 'HelHelHelHel' }),
      );
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('passes upstream errors through and cancels its timers on unsubscribe', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold<LlmEvent>('   20ms #', undefined, new RxllmError('server', 'boom', { status: 500 }));
      const failingSubs = '    ^ 19ms !';
      const slow = cold<LlmEvent>('      500ms a|', values);
      const slowSubs = '       ^ 29ms !';

      const guard = timeouts({ firstToken: 100, total: 200 });
      expectObservable(guard(() => failing)(request)).toBe('20ms #', undefined, new RxllmError('server', 'boom', { status: 500 }));
      expectObservable(guard(() => slow)(request), '^ 29ms !').toBe('');
      expectSubscriptions(failing.subscriptions).toBe(failingSubs);
      expectSubscriptions(slow.subscriptions).toBe(slowSubs);
    });
  });

  it('keeps clocks per subscription', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const upstream = cold<LlmEvent>('  80ms a|', values);
      const llm = withMiddleware(() => upstream, timeouts({ firstToken: 100 }));
      expectObservable(llm(request)).toBe('80ms a|', values);
      // A second subscriber 50 ms later gets its own 100 ms.
      expectObservable(testScheduler.createColdObservable('50ms x|').pipe(() => llm(request))).toBe('80ms a|', values);
    });
  });

  describe('with a deadline in the request context', () => {
    const deadlineError = (afterMs: number, at: { tokensEmitted: boolean; partialText?: string }) => timeoutErrors.deadline(afterMs, { step: 'summary', ...at });

    it('fires at the deadline when it comes before `total`, naming the deadline, and aborts the request', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const upstream = cold<LlmEvent>('  10ms a 99ms b|', values);
        const upstreamSubs = '   ^ 59ms !        ';
        const expected = '       10ms a 49ms #   ';

        const llm = withMiddleware(() => upstream, timeouts({ total: 1000 }));
        expectObservable(llm(request, { step: 'summary', deadline: 60 })).toBe(expected, values, deadlineError(60, { tokensEmitted: true, partialText: 'Hel' }));
        expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
      });
    });

    it('keeps its own `total` when that comes first', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const upstream = cold<LlmEvent>('  200ms a|', values);
        const upstreamSubs = '   ^ 49ms !  ';

        const llm = withMiddleware(() => upstream, timeouts({ total: 50 }));
        expectObservable(llm(request, { step: 'summary', deadline: 500 })).toBe('50ms #', undefined, timeoutErrors.total(50, { step: 'summary' }));
        expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
      });
    });

    it('counts the deadline from the moment of subscribe on the scheduler clock, and enforces it with only `idle` set', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const upstream = cold<LlmEvent>('  10ms a 9ms a 9ms a 9ms a 9ms a 9ms a|', values);
        const upstreamSubs = '   100ms ^ 29ms !               ';
        const caller = cold('          100ms x|');
        const expected = '       100ms 10ms a 9ms a 9ms #  ';

        const llm = withMiddleware(() => upstream, timeouts({ idle: 50 }));
        // Subscribed at 100 with a deadline at 130: 30 ms left.
        const late$ = caller.pipe(mergeMap(() => llm(request, { step: 'summary', deadline: 130 })));
        expectObservable(late$).toBe(expected, values, deadlineError(30, { tokensEmitted: true, partialText: 'HelHel' }));
        expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
      });
    });

    it('does not let the first-token limit outlive the deadline', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const upstream = cold<LlmEvent>('  150ms a|', values);
        const upstreamSubs = '   ^ 59ms !  ';

        const llm = withMiddleware(() => upstream, timeouts({ firstToken: 100 }));
        expectObservable(llm(request, { step: 'summary', deadline: 60 })).toBe('60ms #', undefined, deadlineError(60, { tokensEmitted: false }));
        expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
      });
    });

    it('errors at subscribe without sending a request that is already past its deadline', () => {
      testScheduler.run((helpers) =>
        expectNotSentPastDeadline(helpers, timeouts({ total: 1000 }), request, { step: 'summary' }, timeoutErrors.pastDeadline({ step: 'summary' })),
      );
    });

    it('passes the context on unchanged', () => {
      const seen: unknown[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const llm = withMiddleware((_r, context) => (seen.push(context), cold<LlmEvent>('a|', values)), timeouts({ total: 100 }));
        expectObservable(llm(request, { step: 'summary', lane: 'background', deadline: 500 })).toBe('a|', values);
      });
      expect(seen).toEqual([{ step: 'summary', lane: 'background', deadline: 500 }]);
    });
  });

  describe('headers', () => {
    /** A transport that reports its headers (through the context, as sseTransport does) at `at`, then plays `events`. */
    const reportingAt = (at: number, events: () => Observable<LlmEvent>) => (_r: LlmRequest, context?: RequestContext) =>
      timer(at).pipe(
        tap(() => context?.onHeaders?.(200, { 'content-type': 'text/event-stream' })),
        mergeMap(() => events()),
      );

    it('fires when the transport reports no headers in time, aborting the request', () => {
      let bodyReads = 0;
      testScheduler.run(({ cold, expectObservable }) => {
        const upstream = cold<LlmEvent>('10ms a|', values);
        const llm = withMiddleware(reportingAt(80, () => (bodyReads++, upstream)), timeouts({ headers: 50, firstToken: 200 }));
        expectObservable(llm(request)).toBe('50ms #', undefined, timeoutErrors.headers(50));
      });
      expect(bodyReads).toBe(0); // cut before the headers came, so nothing was read
    });

    it('stops at the reported headers, before any event: a stall after them is firstToken’s, not headers’', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const silent = cold<LlmEvent>('-', values);
        const llm = withMiddleware(reportingAt(20, () => silent), timeouts({ headers: 50, firstToken: 100 }));
        expectObservable(llm(request)).toBe('100ms #', undefined, timeoutErrors.firstToken(100));
      });
    });

    it('without a transport that reports headers, the first event of any kind counts as headers', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const usageFirst = cold<LlmEvent>('30ms u 10ms a|', values);
        expectObservable(withMiddleware(() => usageFirst, timeouts({ headers: 40 }))(request)).toBe('30ms u 10ms a|', values);
        const late = cold<LlmEvent>('  60ms a|', values);
        expectObservable(withMiddleware(() => late, timeouts({ headers: 40 }))(request)).toBe('40ms #', undefined, timeoutErrors.headers(40));
      });
    });

    it('still tells the caller’s own onHeaders, and sets none when no headers limit is given', () => {
      const heard: number[] = [];
      const seen: (RequestContext | undefined)[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const ok = cold<LlmEvent>('a|', values);
        const reporting = (r: LlmRequest, context?: RequestContext) => (seen.push(context), reportingAt(5, () => ok)(r, context));
        const onHeaders = (status: number) => heard.push(status);
        expectObservable(withMiddleware(reporting, timeouts({ headers: 50 }))(request, { step: 's', onHeaders })).toBe('5ms a|', values);
        expectObservable(withMiddleware(reporting, timeouts({ total: 50 }))(request, { step: 's', onHeaders })).toBe('5ms a|', values);
      });
      expect(heard).toEqual([200, 200]);
      expect(seen[0]).toEqual({ step: 's', onHeaders: expect.any(Function) });
      expect(seen[0]!.onHeaders).not.toBe(seen[1]!.onHeaders);
      expect(seen[1]).toEqual({ step: 's', onHeaders: seen[1]!.onHeaders });
    });

    it('is not armed when the deadline comes first: the deadline fires, named as such', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const upstream = cold<LlmEvent>('100ms a|', values);
        const llm = withMiddleware(() => upstream, timeouts({ headers: 50 }));
        expectObservable(llm(request, { deadline: 30 })).toBe('30ms #', undefined, timeoutErrors.deadline(30));
      });
    });
  });

  it('rejects bad options with invalid-config', () => {
    expect(() => timeouts({})).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => timeouts({ firstToken: 100, step: 'chat' } as never)).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('the step now comes from the request context') }),
    );
    expect(() => timeouts({ firstToken: -1 })).toThrow(/firstToken/);
    expect(() => timeouts({ headers: 0 })).toThrow(/headers/);
    expect(() => timeouts({})).toThrow(/headers, firstToken, idle, total/);
    expect(() => timeouts({ idle: 10, extra: 1 } as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });

  describe('on a real server (simulator)', () => {
    let server: SimulatorServer;
    beforeAll(async () => {
      server = await startSimulatorServer({
        seed: 3,
        profiles: {
          'stall-mid': { ttftMs: 5, tokensPerSecond: 2000, jitter: 0, outputTokens: 40, faults: [{ type: 'stall', afterTokens: 3, probability: 1 }] },
          'stall-head': { ttftMs: 5, faults: [{ type: 'stall', probability: 1 }] },
        },
      });
    });
    afterAll(() => server.close());
    const ask = (model: string, config: Parameters<typeof timeouts>[0]) =>
      lastValueFrom(withMiddleware(sseTransport({ baseURL: server.baseURL }), timeouts(config))({ model, messages: [{ role: 'user', content: 'Tell me a story' }] }));

    it('cuts a stall after the headers with idle, and the server sees the abort', async () => {
      const before = server.stats().aborts;
      await expect(ask('stall-mid', { idle: 60 })).rejects.toMatchObject({ code: 'timeout', limit: 'idle', tokensEmitted: true, message: expect.stringContaining('idle limit') });
      await waitFor(() => server.stats().aborts > before, 'the server counting the abort of the request stalled after its headers');
    });

    it('cuts a stall before the headers with firstToken', async () => {
      const before = server.stats().aborts;
      await expect(ask('stall-head', { firstToken: 60 })).rejects.toMatchObject({ code: 'timeout', limit: 'firstToken', tokensEmitted: false });
      await waitFor(() => server.stats().aborts > before, 'the server counting the abort of the request stalled before its headers');
    });
  });
});
