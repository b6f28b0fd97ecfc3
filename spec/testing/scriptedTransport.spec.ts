import { firstValueFrom, lastValueFrom, merge, retry, switchMap, take, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmRequest } from '../../src/core/request';
import type { Transport } from '../../src/core/transport';
import { text } from '../../src/operators/text';
import { finishEvent, textEvent, toolCallEvent } from '../../src/testing/events';
import { scriptedTransport } from '../../src/testing/scriptedTransport';
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
