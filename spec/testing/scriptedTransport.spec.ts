import { firstValueFrom, lastValueFrom, merge, retry, switchMap, take, tap, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmRequest } from '../../src/core/request';
import type { Transport } from '../../src/core/transport';
import { retry as retryMiddleware } from '../../src/middleware/retry';
import { text } from '../../src/operators/text';
import { createRng } from '../../src/simulator/prng';
import { finishEvent, textEvent, toolCallEvent } from '../../src/testing/events';
import { textScript } from '../../src/testing/script';
import { scriptedTransport } from '../../src/testing/scriptedTransport';
import { withMiddleware } from '../../src/core/transport';
import { boundedScheduler } from '../helpers/boundedScheduler';
import { createTestScheduler } from '../helpers/marbles';

const ask = (model: string, content = 'Hi'): LlmRequest => ({ model, messages: [{ role: 'user', content }] });

describe('scriptedTransport', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  const values = { a: textEvent('Hel'), b: textEvent('lo'), f: finishEvent('stop') };
  const hello = [
    { at: 300, text: 'Hel' },
    { at: 310, text: 'lo' },
    { at: 320, finish: 'stop' },
  ];

  describe('in virtual time', () => {
    it('plays a token script at its times and records the subscription', () => {
      const llm = scriptedTransport({ 'gpt-4o-mini': hello });
      testScheduler.run(({ expectObservable, expectSubscriptions }) => {
        const expected = '     300ms a 9ms b 9ms (f|)';
        const llmSubs = '      ^ 319ms !             ';

        expectObservable(llm(ask('gpt-4o-mini'))).toBe(expected, values);
        expectSubscriptions(llm.subscriptions).toBe(llmSubs);
      });
      expect(llm.requests).toEqual([
        {
          index: 0,
          request: ask('gpt-4o-mini'),
          model: 'gpt-4o-mini',
          subscribedAt: 0,
          endedAt: 320,
          outcome: 'completed',
          error: undefined,
          events: [values.a, values.b, values.f],
        },
      ]);
    });

    it('plays a marble script the same way', () => {
      const llm = scriptedTransport({ 'gpt-4o-mini': { marbles: '300ms a 9ms b 9ms (f|)', values } });
      testScheduler.run(({ expectObservable, expectSubscriptions }) => {
        const expected = '     300ms a 9ms b 9ms (f|)';
        const llmSubs = '      ^ 319ms !             ';

        expectObservable(llm(ask('gpt-4o-mini'))).toBe(expected, values);
        expectSubscriptions(llm.subscriptions).toBe(llmSubs);
      });
    });

    it('counts script times from each subscription, and keeps the order of steps at one time', () => {
      const llm = scriptedTransport({
        'gpt-4o-mini': [
          { at: 0, event: toolCallEvent({ id: 'call_1', name: 'f', arguments: '{' }) },
          { at: 0, event: toolCallEvent({ arguments: '}' }) },
          { at: 50, finish: 'tool_calls' },
        ],
      });
      const c1 = toolCallEvent({ id: 'call_1', name: 'f', arguments: '{' });
      const c2 = toolCallEvent({ arguments: '}' });
      testScheduler.run(({ expectObservable, expectSubscriptions }) => {
        const subscribeLate = '100ms ^                  ';
        const expected = '     100ms (ab) 46ms (f|)     ';
        const llmSubs = '      100ms ^ 49ms !           ';

        expectObservable(llm(ask('gpt-4o-mini')), subscribeLate).toBe(expected, { a: c1, b: c2, f: finishEvent('tool_calls') });
        expectSubscriptions(llm.subscriptionsTo('gpt-4o-mini')).toBe(llmSubs);
      });
      expect(llm.requests[0]).toMatchObject({ subscribedAt: 100, endedAt: 150 });
    });

    it('records a request cancelled when its subscriber leaves, and plays nothing after', () => {
      const llm = scriptedTransport({ 'gpt-4o-mini': hello });
      testScheduler.run(({ expectObservable, expectSubscriptions }) => {
        const unsub = '        ^ 304ms !             ';
        const expected = '     300ms a               ';
        const llmSubs = '      ^ 304ms !             ';

        expectObservable(llm(ask('gpt-4o-mini')), unsub).toBe(expected, values);
        expectSubscriptions(llm.subscriptions).toBe(llmSubs);
      });
      expect(llm.requests[0]).toMatchObject({ outcome: 'cancelled', endedAt: 305, events: [values.a] });
      expect(llm.inFlight).toBe(0);
    });

    it('records a request cancelled by a subscriber that leaves from inside next()', () => {
      const llm = scriptedTransport({ 'gpt-4o-mini': hello });
      testScheduler.run(({ expectObservable }) => {
        expectObservable(llm(ask('gpt-4o-mini')).pipe(take(1))).toBe('300ms (a|)', values);
      });
      expect(llm.requests[0]).toMatchObject({ outcome: 'cancelled', endedAt: 300, events: [values.a] });
    });

    it('fails where the script says, with the partial text and tokensEmitted a real transport reports', () => {
      const llm = scriptedTransport({
        'gpt-4o-mini': [
          { at: 300, text: 'Hel' },
          { at: 400, error: 'connection-lost' },
        ],
      });
      const error = new RxllmError('connection-lost', 'Scripted connection-lost error 400 ms into request 0 (model "gpt-4o-mini").', {
        partialText: 'Hel',
        tokensEmitted: true,
      });
      testScheduler.run(({ expectObservable, expectSubscriptions }) => {
        const expected = '     300ms a 99ms #';
        const llmSubs = '      ^ 399ms !     ';

        expectObservable(llm(ask('gpt-4o-mini'))).toBe(expected, values, error);
        expectSubscriptions(llm.subscriptions).toBe(llmSubs);
      });
      expect(llm.requests[0]).toMatchObject({ outcome: 'errored', endedAt: 400, error: expect.objectContaining({ code: 'connection-lost' }) });
    });

    it('gives an HTTP-style error its status, and passes a given error through as it is', () => {
      const given = new RxllmError('rate-limited', '429 slow down', { status: 429, retryAfterMs: 1000 });
      const llm = scriptedTransport({
        limited: [{ at: 50, error: 'rate-limited', details: { retryAfterMs: 2000 } }],
        given: { marbles: '20ms #', error: given },
        down: { marbles: '10ms #' },
      });
      const errors: Record<string, unknown> = {};
      testScheduler.run(() => {
        for (const model of ['limited', 'given', 'down']) llm(ask(model)).subscribe({ error: (e: unknown) => (errors[model] = e) });
      });
      expect(errors['given']).toBe(given);
      expect(errors['down']).toMatchObject({ code: 'server', status: 500, tokensEmitted: false });
      expect(errors['limited']).toMatchObject({ code: 'rate-limited', status: 429, retryAfterMs: 2000, tokensEmitted: false });
      expect(llm.requests.map((r) => [r.model, r.endedAt])).toEqual([['limited', 50], ['given', 20], ['down', 10]]);
    });

    it('scripts each request with a function of the request and its index: a failure, then a retry that succeeds', () => {
      const llm = scriptedTransport((_request, index) => (index === 0 ? [{ at: 100, error: 'server' }] : hello));
      testScheduler.run(({ expectObservable, expectSubscriptions }) => {
        const expected = '     100ms 320ms (t|)    ';
        const llmSubs = [
          '                    ^ 99ms !            ',
          '                    100ms ^ 319ms !     ',
        ];

        expectObservable(llm(ask('any')).pipe(retry(1), text())).toBe(expected, { t: 'Hello' });
        expectSubscriptions(llm.subscriptions).toBe(llmSubs);
      });
      expect(llm.requests.map((r) => r.outcome)).toEqual(['errored', 'completed']);
    });

    it('records the context each request came with, and gives it to a scripts function', () => {
      const llm = scriptedTransport((_request, _index, context) => (context?.step === 'summary' ? textScript('Short.', { at: 50 }) : hello));
      const summary = { step: 'summary', lane: 'background', attributes: { tenant: 'acme' } };
      testScheduler.run(({ expectObservable }) => {
        expectObservable(llm(ask('m'), summary).pipe(text())).toBe('50ms (t|)', { t: 'Short.' });
        expectObservable(llm(ask('m')).pipe(text())).toBe('320ms (t|)', { t: 'Hello' });
      });
      expect(llm.requests.map((r) => r.context)).toEqual([summary, undefined]);
      expect(llm.requests[0]!.request).toEqual(ask('m')); // the context is beside the request, never in it
    });

    it('fails a request for a model that has no script with bad-request 404, naming the scripted models', () => {
      const llm = scriptedTransport({ 'gpt-4o-mini': hello, 'gpt-4o': hello });
      const error = new RxllmError(
        'bad-request',
        'scriptedTransport has no script for model "gpt-5"; it has scripts for "gpt-4o-mini", "gpt-4o". Add one, or fix the request\'s model.',
        { status: 404, tokensEmitted: false },
      );
      testScheduler.run(({ expectObservable }) => {
        expectObservable(llm(ask('gpt-5'))).toBe('#', undefined, error);
      });
      expect(llm.requests[0]).toMatchObject({ model: 'gpt-5', outcome: 'errored', endedAt: 0 });
    });

    it('validates requests like a real transport unless told not to', () => {
      const bad = { model: 'gpt-4o-mini', messages: [] } as unknown as LlmRequest;
      const strict = scriptedTransport({ 'gpt-4o-mini': hello });
      const lax = scriptedTransport({ 'gpt-4o-mini': hello }, { validate: false });
      testScheduler.run(({ expectObservable }) => {
        expectObservable(strict(bad)).toBe('#', undefined, expect.anything());
        expectObservable(lax(bad).pipe(text())).toBe('320ms (t|)', { t: 'Hello' });
      });
      expect(strict.requests[0]?.error).toMatchObject({ code: 'invalid-request', path: 'messages' });
      expect(strict.requests[0]?.events).toEqual([]);
    });

    it('is a cold Transport: nothing is recorded or played before subscribe', () => {
      const llm = scriptedTransport({ 'gpt-4o-mini': hello });
      const transport: Transport = llm;
      testScheduler.run(() => {
        transport(ask('gpt-4o-mini'));
      });
      expect(llm.requests).toEqual([]);
    });

    it('counts requests in flight and the peak', () => {
      const llm = scriptedTransport({ a: [{ at: 300, finish: 'stop' }], b: [{ at: 900, finish: 'stop' }] });
      const inFlight: number[] = [];
      testScheduler.run(() => {
        merge(llm(ask('a')), llm(ask('b')), timer(100).pipe(switchMap(() => llm(ask('a'))))).subscribe();
        for (const frame of [50, 150, 350, 950]) timer(frame).subscribe(() => inFlight.push(llm.inFlight));
      });
      expect(inFlight).toEqual([2, 3, 2, 0]);
      expect(llm.peakInFlight).toBe(3);
      expect(llm.requests.map((r) => [r.model, r.subscribedAt, r.endedAt])).toEqual([['a', 0, 300], ['b', 0, 900], ['a', 100, 400]]);
    });

    it('never ends a marble script without | or #: a stalled stream', () => {
      const llm = scriptedTransport({ stalled: { marbles: '100ms a', values } });
      testScheduler.run(({ expectObservable, expectSubscriptions }) => {
        const unsub = '        ^ 9999ms !';
        const llmSubs = '      ^ 9999ms !';

        expectObservable(llm(ask('stalled')), unsub).toBe('100ms a', values);
        expectSubscriptions(llm.subscriptions).toBe(llmSubs);
      });
      expect(llm.requests[0]?.outcome).toBe('cancelled');
    });
  });

  describe('checks scripts when it is made', () => {
    const cases: [string, unknown, string][] = [
      ['steps out of time order', [{ at: 20, text: 'a' }, { at: 10, text: 'b' }], 'script for "m", step 1: steps must be in time order, but 10 ms comes after 20 ms.'],
      ['a negative time', [{ at: -1, text: 'a' }], 'script for "m", step 0: `at` must be a number of milliseconds ≥ 0, got -1.'],
      ['a step with two kinds', [{ at: 0, text: 'a', finish: 'stop' }], 'script for "m", step 0: needs exactly one of text, finish, event or error, got text, finish.'],
      ['a step after an error', [{ at: 0, error: 'server' }, { at: 1, text: 'a' }], 'script for "m", step 1: nothing can follow an error step.'],
      ['an event that is not one', [{ at: 0, event: { type: 'delta' } }], 'script for "m", step 0: must be an LlmEvent (use textEvent(), finishEvent(), ...), got {"type":"delta"}.'],
      ['a marble letter with no value', { marbles: '10ms a x|', values }, 'script for "m": marble "x" at 11 ms has no `values.x`.'],
      ['a marble subscription marker', { marbles: 'a^b|', values }, 'script for "m": "^" has no meaning in a script: frame 0 is the moment the request is subscribed.'],
      ['something else', 'Hello', 'script for "m": expected an array of timed steps or { marbles, values }.'],
    ];
    it.each(cases)('rejects %s', (_name, script, message) => {
      expect(() => scriptedTransport({ m: script as never })).toThrow(new RxllmError('invalid-config', `scriptedTransport: ${message}`));
    });

    it('fails only the request whose function-made script is malformed', () => {
      const llm = scriptedTransport(() => [{ at: 5, text: 'late' }, { at: 1, text: 'early' }]);
      testScheduler.run(({ expectObservable }) => {
        expectObservable(llm(ask('m'))).toBe('#', undefined, expect.anything());
      });
      expect(llm.requests[0]?.error).toMatchObject({ code: 'invalid-config' });
    });
  });

  // Issue 19: a request that starts at a fractional virtual time used to reschedule by a delay too
  // small to move the clock, and TestScheduler.run() never returned. The bounded scheduler turns
  // such a spin into a failure.
  describe('at any start time, fractional ones included', () => {
    const hello = textScript('Hello world', { at: 100, every: 10 }); // 'Hello ' at 100; 'world' and the finish at 110

    it('plays the script at the frames it names, counted from a fractional start (the issue’s repro)', () => {
      const start = 2013.004485022778;
      const frames: number[] = [];
      testScheduler.run(() => {
        const clock = boundedScheduler(testScheduler, 100);
        const model = scriptedTransport({ m: hello }, { scheduler: clock });
        timer(start, clock)
          .pipe(switchMap(() => model(ask('m', 'x'))), tap(() => frames.push(testScheduler.now())))
          .subscribe();
      });
      expect(frames).toEqual([start + 100, start + 110, start + 110]);
    });

    it('never spins, and lands every step on its frame, for 1,000 random fractional start times', () => {
      const random = createRng('scriptedTransport fractional starts').next;
      for (let trial = 0; trial < 1000; trial++) {
        // Start times of every size, and script times with fractions of their own.
        const start = random() * 10 ** (random() * 5);
        const at = Math.round(random() * 300) + (random() < 0.5 ? random() : 0);
        const every = random() * 20;
        const script = textScript('one two three', { at, every });
        const seen: { frame: number; at: number }[] = [];
        testScheduler = createTestScheduler();
        testScheduler.run(() => {
          const clock = boundedScheduler(testScheduler, 100);
          const model = scriptedTransport({ m: script }, { scheduler: clock });
          timer(start, clock)
            .pipe(switchMap(() => model(ask('m'))))
            .subscribe((event) => seen.push({ frame: testScheduler.now(), at: script[seen.length]!.at }));
        });
        expect(seen).toHaveLength(script.length);
        for (const { frame, at: stepAt } of seen) expect(frame).toBe(start + stepAt);
      }
    });

    it('never spins under retry() with jittered backoff, 300 runs', () => {
      const random = createRng('scriptedTransport retry jitter').next;
      for (let trial = 0; trial < 300; trial++) {
        let answer: string | undefined;
        testScheduler = createTestScheduler();
        testScheduler.run(() => {
          const clock = boundedScheduler(testScheduler, 200);
          // Two failures, then the answer: each retry starts after a jittered, fractional wait.
          const model = scriptedTransport((_request, index) => (index < 2 ? [{ at: 5 + random() * 50, error: 'server' }] : hello), { scheduler: clock });
          const llm = withMiddleware(model, retryMiddleware({ maxRetries: 2, backoff: { initialMs: 100 + random() * 900, jitter: 0.5 }, random, scheduler: clock }));
          timer(random() * 1000, clock)
            .pipe(switchMap(() => llm(ask('m'))), text())
            .subscribe((value) => (answer = value));
        });
        expect(answer).toBe('Hello world');
      }
    });
  });

  describe('in real time', () => {
    it('plays the script on asyncScheduler and records the request', async () => {
      const llm = scriptedTransport({ 'gpt-4o-mini': [{ at: 5, text: 'Hel' }, { at: 15, text: 'lo' }, { at: 20, finish: 'stop' }] });

      await expect(lastValueFrom(llm(ask('gpt-4o-mini')).pipe(text()))).resolves.toBe('Hello');

      const [record] = llm.requests;
      expect(record).toMatchObject({ outcome: 'completed', events: [textEvent('Hel'), textEvent('lo'), finishEvent('stop')] });
      // Each step waits until its time has passed on the scheduler's own clock, so this holds however slow the machine.
      expect(record!.endedAt! - record!.subscribedAt).toBeGreaterThanOrEqual(20);
    });

    it('records a cancellation and stops the script', async () => {
      const llm = scriptedTransport({ 'gpt-4o-mini': [{ at: 5, text: 'Hel' }, { at: 30, text: 'lo' }, { at: 30, finish: 'stop' }] });

      await expect(firstValueFrom(llm(ask('gpt-4o-mini')))).resolves.toEqual(textEvent('Hel'));
      await lastValueFrom(timer(40));

      expect(llm.requests[0]).toMatchObject({ outcome: 'cancelled', events: [textEvent('Hel')] });
      expect(llm.inFlight).toBe(0);
    });
  });
});
