import { last, map, mergeMap, Observable, of, switchMap } from 'rxjs';
import type { RequestContext } from '../../src/core/context';
import type { LlmRequest } from '../../src/core/request';
import { z } from 'zod';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import { step } from '../../src/pipeline/step';
import type { StepState } from '../../src/pipeline/StepState';
import { ask, createTestScheduler, events, routedTransport, show } from './fakes';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}

const shown = (states: Observable<StepState<unknown>>) => states.pipe(map(show));

describe('step', () => {
  it('streams waiting → streaming (text so far) → done, then completes', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answer = cold('  --a--b--(f|)', events({ a: 'Hel', b: 'lo' }));
      const answerSubs = '   ^-------!   ';
      const expected = '     w-x--y--(d|)';
      const values = { w: 'waiting:', x: 'streaming:Hel', y: 'streaming:Hello', d: 'done:"Hello"' };

      const greet = step('greet', () => ask('greet'), { transport: routedTransport({ greet: [answer] }) });

      expectObservable(shown(greet.run('x'))).toBe(expected, values);
      expectSubscriptions(answer.subscriptions).toBe(answerSubs);
    });
  });

  it('times the step on the scheduler clock: startedAt, firstTokenAt, endedAt', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const answer = cold('       --a--b--(f|)', events({ a: 'Hel', b: 'lo' }));
      const start = hot('   100ms x           ');
      const expected = '    100ms --------d   ';

      const greet = step('greet', () => ask('greet'), {
        transport: routedTransport({ greet: [answer] }),
        scheduler: testScheduler,
      });

      expectObservable(start.pipe(mergeMap(() => greet.run('x').pipe(last())))).toBe(expected, {
        d: { step: 'greet', status: 'done', textSoFar: 'Hello', reask: 0, value: 'Hello', startedAt: 100, firstTokenAt: 102, endedAt: 108 },
      });
    });
  });

  it('value() asks for one JSON body (stream: false) unless the request sets stream; run() leaves the request as built', () => {
    const sent: { request: LlmRequest; context: RequestContext | undefined }[] = [];
    const transport = (request: LlmRequest, context?: RequestContext) => {
      sent.push({ request, context });
      return of<LlmEvent[]>({ type: 'text', choice: 0, text: 'Hi' }, { type: 'finish', choice: 0, reason: 'stop' });
    };
    const greet = step('greet', () => ask('greet'), { transport });
    const streamed = step('streamed', () => ({ ...ask('streamed'), stream: true }), { transport });
    greet.value('x').subscribe();
    greet.run('x').subscribe();
    streamed.value('x').subscribe();
    expect(sent.map(({ request }) => request.stream)).toEqual([false, undefined, true]);
    // The mark is the pipeline's own: what the transport gets is the usual context.
    expect(sent[0]!.context).toEqual({ step: 'greet', onServed: expect.any(Function) });
  });

  it('value() emits only the final value', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answer = cold('  --a--b--(f|)', events({ a: 'Hel', b: 'lo' }));
      const answerSubs = '   ^-------!   ';
      const expected = '     --------(v|)';

      const greet = step('greet', () => ask('greet'), { transport: routedTransport({ greet: [answer] }) });

      expectObservable(greet.value('x')).toBe(expected, { v: 'Hello' });
      expectSubscriptions(answer.subscriptions).toBe(answerSubs);
    });
  });

  it('a first non-text token (reasoning) moves the step to streaming once', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const reasoning: LlmEvent = { type: 'reasoning', choice: 0, text: 'hmm' };
      const answer = cold('  -r-r-a-(f|)', { ...events({ a: 'Hi' }), r: reasoning });
      const expected = '     ws---x-(d|)';
      const values = { w: 'waiting:', s: 'streaming:', x: 'streaming:Hi', d: 'done:"Hi"' };

      const greet = step('greet', () => ask('greet'), { transport: routedTransport({ greet: [answer] }) });

      expectObservable(shown(greet.run('x'))).toBe(expected, values);
    });
  });

  it('is cold: builds and sends nothing before subscribe, one request per subscription', () => {
    createTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const first = cold('        --a-(f|)', events({ a: 'one' }));
      const second = cold('       --a-(f|)', events({ a: 'two' }));
      const firstSubs = '   ---^---!      ';
      const secondSubs = '  -----^---!    ';
      const trigger1 = hot('---x           ');
      const trigger2 = hot('-----x         ');
      const build = jest.fn(() => ask('greet'));

      const greet = step('greet', build, { transport: routedTransport({ greet: [first, second] }) });
      const answer$ = greet.value('x'); // one observable, subscribed twice below

      expect(build).not.toHaveBeenCalled();
      expectObservable(trigger1.pipe(mergeMap(() => answer$))).toBe('-------v', { v: 'one' });
      expectObservable(trigger2.pipe(mergeMap(() => answer$))).toBe('---------v', { v: 'two' });
      expectSubscriptions(first.subscriptions).toBe(firstSubs);
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
    });
  });

  it('unsubscribing unsubscribes the transport (the request is aborted)', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const answer = cold('  --a--b--(f|)', events({ a: 'Hel', b: 'lo' }));
      const answerSubs = '   ^---!       ';
      const unsub = '        ^---!       ';
      const expected = '     w-x--       ';

      const greet = step('greet', () => ask('greet'), { transport: routedTransport({ greet: [answer] }) });

      expectObservable(shown(greet.run('x')), unsub).toBe(expected, { w: 'waiting:', x: 'streaming:Hel' });
      expectSubscriptions(answer.subscriptions).toBe(answerSubs);
    });
  });

  it('switchMap over inputs cancels the previous input\'s request', () => {
    createTestScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const forA = cold('      ----a-(f|)', events({ a: 'A' }));
      const forB = cold('        ----a-(f|)', events({ a: 'B' }));
      const forASubs = '     ^-!         ';
      const forBSubs = '     --^-----!   ';
      const input = hot('    a-b         ');
      const expected = '     --------v   ';

      const transport = routedTransport({ a: [forA], b: [forB] });
      const echo = step('echo', (letter: string) => ask(letter), { transport });

      expectObservable(input.pipe(switchMap(echo.value))).toBe(expected, { v: 'B' });
      expectSubscriptions(forA.subscriptions).toBe(forASubs);
      expectSubscriptions(forB.subscriptions).toBe(forBSubs);
    });
  });

  it('passes a transport error through, naming the step', () => {
    let error: unknown;
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new RxllmError('server', 'HTTP 503', { status: 503 });
      const answer = cold('  --a--#', events({ a: 'Hel' }), failure);
      const answerSubs = '   ^----!';
      const expected = '     w-x--#';

      const greet = step('greet', () => ask('greet'), { transport: routedTransport({ greet: [answer] }) });

      expectObservable(shown(greet.run('x'))).toBe(expected, { w: 'waiting:', x: 'streaming:Hel' }, failure);
      expectSubscriptions(answer.subscriptions).toBe(answerSubs);
    });
    createTestScheduler().run(({ cold }) => {
      const failure = new RxllmError('server', 'HTTP 503', { status: 503 });
      const greet = step('greet', () => ask('greet'), { transport: routedTransport({ greet: [cold('--#', undefined, failure)] }) });
      greet.value('x').subscribe({ error: (e: unknown) => (error = e) });
    });
    expect(error).toMatchObject({ code: 'server', message: 'HTTP 503', status: 503, step: 'greet' });
  });

  it('keeps the innermost step name when a nested step already named itself', () => {
    let error: unknown;
    createTestScheduler().run(({ cold }) => {
      const failure = new RxllmError('server', 'HTTP 503', { step: 'inner' });
      const outer = step('outer', () => ask('o'), { transport: routedTransport({ o: [cold('--#', undefined, failure)] }) });
      outer.value('x').subscribe({ error: (e: unknown) => (error = e) });
    });
    expect(error).toMatchObject({ code: 'server', step: 'inner' });
  });

  describe('request context', () => {
    it('sends every request with the step\'s name, and the parent context\'s lane, attributes and deadline', () => {
      let contexts: unknown[] = [];
      createTestScheduler().run(({ cold, expectObservable }) => {
        const transport = routedTransport({ greet: [cold('--(af|)', events({ a: 'Hi' }))] });
        const greet = step('greet', () => ask('greet'), { transport });

        const parent = { step: 'outer', lane: 'background', attributes: { tenant: 'acme' }, deadline: 1000 };
        expectObservable(greet.value('x', parent)).toBe('--(v|)', { v: 'Hi' });
        contexts = transport.contexts;
      });
      expect(contexts).toEqual([
        { step: 'greet', lane: 'background', attributes: { tenant: 'acme' }, deadline: 1000, onServed: expect.any(Function) },
      ]);
    });

    it('ignores a second argument that is not an object (switchMap passes an index)', () => {
      let contexts: unknown[] = [];
      createTestScheduler().run(({ cold, hot, expectObservable }) => {
        const transport = routedTransport({ a: [cold('-(af|)', events({ a: 'A' }))], b: [cold('-(af|)', events({ a: 'B' }))] });
        const echo = step('echo', (letter: string) => ask(letter), { transport });
        expectObservable(hot('a-b').pipe(switchMap(echo.value))).toBe('-v-w', { v: 'A', w: 'B' });
        contexts = transport.contexts;
      });
      expect(contexts).toEqual([
        { step: 'echo', onServed: expect.any(Function) },
        { step: 'echo', onServed: expect.any(Function) },
      ]);
    });

    it('records which model answered (reported through onServed) in its states, and tells the parent too', () => {
      const parentReports: unknown[] = [];
      createTestScheduler().run(({ cold, expectObservable }) => {
        const served = { model: 'gpt-4o-mini', by: 'fallback', candidate: 'backup' };
        const transport = (_: unknown, context?: { onServed?: (s: typeof served) => void }) =>
          cold('--a--(f|)', events({ a: 'Hi' })).pipe(
            // The middleware reports once it knows, before the first token here.
            (events$) => new Observable<LlmEvent>((subscriber) => {
              context?.onServed?.(served);
              return events$.subscribe(subscriber);
            }),
          );
        const greet = step('greet', () => ask('greet'), { transport: transport as never });
        const states = greet.run('x', { onServed: (report) => parentReports.push(report) });

        expectObservable(states.pipe(map((state) => state.served?.candidate ?? '-'))).toBe('w-s--(d|)', {
          w: '-',
          s: 'backup',
          d: 'backup',
        });
      });
      expect(parentReports).toEqual([{ model: 'gpt-4o-mini', by: 'fallback', candidate: 'backup' }]);
    });

    it('forgets who answered the first ask when it re-asks', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        let asks = 0;
        const transport = (_: unknown, context?: { onServed?: (s: { model: string; by: string }) => void }) => {
          // Only the first request is sent elsewhere.
          if (asks++ === 0) context?.onServed?.({ model: 'backup-model', by: 'fallback' });
          return asks === 1 ? cold('-(af|)', events({ a: 'maybe' })) : cold('----(af|)', events({ a: 'positive' }));
        };
        const sentiment = step('sentiment', () => ask('s'), { transport: transport as never, output: z.enum(['positive', 'negative']), reasks: 1 });

        expectObservable(sentiment.run('x').pipe(map((state) => `${state.status}:${state.served?.model ?? '-'}`))).toBe('a(bc)(de|)', {
          a: 'waiting:-',
          b: 'streaming:backup-model',
          c: 'waiting:-',
          d: 'streaming:-',
          e: 'done:-',
        });
      });
    });

    it('sends nothing when the deadline has already passed: a timeout error on subscribe, naming the step and the deadline', () => {
      const testScheduler = createTestScheduler();
      testScheduler.run(({ cold, expectObservable }) => {
        const answer = cold('--(af|)', events({ a: 'Hi' }));
        const build = jest.fn(() => ask('greet'));
        const greet = step('greet', build, { transport: routedTransport({ greet: [answer] }), scheduler: testScheduler });
        const late = new RxllmError(
          'timeout',
          `step "greet" was not started: the run's deadline was reached just as it was ready ` +
            `(deadline 100 on the scheduler's clock), so nothing was sent. ` +
            'Give the run a longer `deadline`, or make the steps before this one faster.',
          { step: 'greet' },
        );

        expectObservable(cold('100ms x').pipe(mergeMap(() => greet.run('x', { deadline: 100 })))).toBe('100ms #', undefined, late);
        testScheduler.flush();
        expect(build).not.toHaveBeenCalled();
        expect(answer.subscriptions).toEqual([]);
      });
    });

    it('is cut off at the deadline: the request is unsubscribed and the run errors with timeout', () => {
      const testScheduler = createTestScheduler();
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const answer = cold('  --a------(bf|)', events({ a: 'Hel', b: 'lo' }));
        const answerSubs = '   ^----!        ';
        const expected = '     w-x--#        ';
        const greet = step('greet', () => ask('greet'), { transport: routedTransport({ greet: [answer] }), scheduler: testScheduler });
        const late = new RxllmError(
          'timeout',
          `step "greet" did not finish by the run's deadline and was cancelled: it started with 5 ms left ` +
            `(deadline 5 on the scheduler's clock). ` +
            'Give the run a longer `deadline`, or make this step faster (a smaller model, a shorter answer).',
          { step: 'greet' },
        );

        expectObservable(shown(greet.run('x', { deadline: 5 }))).toBe(expected, { w: 'waiting:', x: 'streaming:Hel' }, late);
        expectSubscriptions(answer.subscriptions).toBe(answerSubs);
      });
    });
  });

  describe('with an output schema', () => {
    const Summary = z.object({ title: z.string(), keywords: z.array(z.string()).length(2) });

    it('parses and validates the final text into the schema\'s type', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        const answer = cold('--a-b-(f|)', events({ a: '{"title":"Rx",', b: '"keywords":["a","b"]}' }));
        const summary = step('summary', () => ask('s'), { transport: routedTransport({ s: [answer] }), output: Summary });

        expectObservable(summary.value('x')).toBe('------(v|)', { v: { title: 'Rx', keywords: ['a', 'b'] } });
      });
    });

    it('sends the schema from z.toJSONSchema (without $schema), named after the step', () => {
      let sent: { response_format?: unknown }[] = [];
      createTestScheduler().run(({ cold, expectObservable }) => {
        const answer = cold('-(a|)', events({ a: '{"title":"Rx","keywords":["a","b"]}' }));
        const routed = routedTransport({ s: [answer] });
        const summary = step('my summary', () => ask('s'), { transport: routed, output: Summary });
        expectObservable(summary.value('x')).toBe('-(v|)', { v: { title: 'Rx', keywords: ['a', 'b'] } });
        sent = routed.requests;
      });
      expect(sent[0]!.response_format).toEqual({
        type: 'json_schema',
        json_schema: {
          name: 'my_summary',
          schema: {
            type: 'object',
            properties: {
              title: { type: 'string' },
              keywords: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 },
            },
            required: ['title', 'keywords'],
            additionalProperties: false,
          },
        },
      });
    });

    it('keeps a response_format the request sets itself', () => {
      let sent: { response_format?: unknown }[] = [];
      createTestScheduler().run(({ cold, expectObservable }) => {
        const answer = cold('-(a|)', events({ a: '{"title":"Rx","keywords":["a","b"]}' }));
        const routed = routedTransport({ s: [answer] });
        const summary = step('s', () => ({ ...ask('s'), response_format: { type: 'json_object' as const } }), {
          transport: routed,
          output: Summary,
        });
        expectObservable(summary.value('x')).toBe('-(v|)', { v: { title: 'Rx', keywords: ['a', 'b'] } });
        sent = routed.requests;
      });
      expect(sent[0]!.response_format).toEqual({ type: 'json_object' });
    });

    it('tolerates a ```json fence around the answer', () => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        const answer = cold('-a-(b|)', events({ a: 'Here you go:\n```json\n{"title":"Rx",', b: '"keywords":["a","b"]}\n```' }));
        const summary = step('s', () => ask('s'), { transport: routedTransport({ s: [answer] }), output: Summary });

        expectObservable(summary.value('x')).toBe('---(v|)', { v: { title: 'Rx', keywords: ['a', 'b'] } });
      });
    });

    it.each([
      ['a bare label', 'Positive.', 'positive'],
      ['a JSON string', '"negative"', 'negative'],
      ['the { value } wrapper it asked for', '{"value":"neutral"}', 'neutral'],
      ['a fenced wrapper', '```json\n{"value": "neutral"}\n```', 'neutral'],
    ])('accepts %s for a z.enum', (_, text, label) => {
      createTestScheduler().run(({ cold, expectObservable }) => {
        const answer = cold('-(a|)', events({ a: text }));
        const sentiment = step('sentiment', () => ask('s'), {
          transport: routedTransport({ s: [answer] }),
          output: z.enum(['positive', 'negative', 'neutral']),
        });

        expectObservable(sentiment.value('x')).toBe('-(v|)', { v: label });
      });
    });

    it('asks for a non-object schema wrapped as { value } (OpenAI needs an object root)', () => {
      let sent: { response_format?: unknown }[] = [];
      createTestScheduler().run(({ cold, expectObservable }) => {
        const routed = routedTransport({ s: [cold('-(a|)', events({ a: 'positive' }))] });
        const sentiment = step('sentiment', () => ask('s'), { transport: routed, output: z.enum(['positive', 'negative']) });
        expectObservable(sentiment.value('x')).toBe('-(v|)', { v: 'positive' });
        sent = routed.requests;
      });
      expect(sent[0]!.response_format).toEqual({
        type: 'json_schema',
        json_schema: {
          name: 'sentiment',
          schema: {
            type: 'object',
            properties: { value: { type: 'string', enum: ['positive', 'negative'] } },
            required: ['value'],
            additionalProperties: false,
          },
        },
      });
    });

    it('re-asks with the validation error, then succeeds', () => {
      let sent: { messages: unknown[] }[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('   --a-(f|)      ', events({ a: 'maybe?' }));
        const firstSubs = '    ^---!         ';
        const second = cold('      --a-(f|)  ', events({ a: 'negative' }));
        const secondSubs = '   ----^---!     ';
        const expected = '     w-s-v-t-(d|)  ';
        const values = { w: 'waiting:0:', s: 'streaming:0:maybe?', v: 'waiting:1:', t: 'streaming:1:negative', d: 'done:1:"negative"' };
        // The re-ask's waiting state shows reask 1 and an empty textSoFar.
        const shownWithReask = (state: StepState<unknown>) => show(state).replace(':', `:${state.reask}:`);

        const routed = routedTransport({ s: [first, second] });
        const sentiment = step('sentiment', () => ask('s', 'How does this sound?'), {
          transport: routed,
          output: z.enum(['positive', 'negative', 'neutral']),
          reasks: 1,
        });

        expectObservable(sentiment.run('x').pipe(map(shownWithReask))).toBe(expected, values);
        expectSubscriptions(first.subscriptions).toBe(firstSubs);
        expectSubscriptions(second.subscriptions).toBe(secondSubs);
        sent = routed.requests;
      });
      expect(sent[1]!.messages).toMatchInlineSnapshot(`
        [
          {
            "content": "How does this sound?",
            "role": "user",
          },
          {
            "content": "maybe?",
            "role": "assistant",
          },
          {
            "content": "Your previous answer does not match the required format:
        ✖ Invalid option: expected one of "positive"|"negative"|"neutral"
        Reply again with only the corrected answer as JSON, no other text.",
            "role": "user",
          },
        ]
      `);
    });

    it('fails with invalid-output carrying the raw text and the library\'s issues once re-asks run out', () => {
      let error: unknown;
      createTestScheduler().run(({ cold, expectSubscriptions }) => {
        const first = cold('   --a-(f|)      ', events({ a: 'maybe?' }));
        const second = cold('      --a-(f|)  ', events({ a: 'still unsure' }));
        const secondSubs = '   ----^---!     ';

        const sentiment = step('sentiment', () => ask('s'), {
          transport: routedTransport({ s: [first, second] }),
          output: z.enum(['positive', 'negative', 'neutral']),
          reasks: 1,
        });

        sentiment.value('x').subscribe({ error: (e: unknown) => (error = e) });
        expectSubscriptions(second.subscriptions).toBe(secondSubs);
      });
      expect(error).toBeInstanceOf(RxllmError);
      const failure = error as RxllmError;
      expect(failure.code).toBe('invalid-output');
      expect(failure.raw).toBe('still unsure');
      expect(failure.step).toBe('sentiment');
      // zod's own issue objects, as its ~standard.validate returns them.
      expect(failure.issues).toEqual([expect.objectContaining({ code: 'invalid_value', path: [] })]);
      expect(failure.message).toMatchInlineSnapshot(`
        "step "sentiment" answered text that is not JSON and does not match its output schema (after 1 re-ask):
        ✖ Invalid option: expected one of "positive"|"negative"|"neutral"
        The answer is in error.raw. Make the prompt more explicit, loosen the schema, or raise \`reasks\`."
      `);
    });

    it('errors (rather than throwing out of a callback) when the transport throws on a re-ask', () => {
      let error: unknown;
      const broken = new Error('transport misconfigured');
      createTestScheduler().run(({ cold }) => {
        let calls = 0;
        const transport = () => {
          if (calls++ === 0) return cold('--a-(f|)', events({ a: 'maybe?' }));
          throw broken;
        };
        const sentiment = step('sentiment', () => ask('s'), { transport, output: z.enum(['positive', 'negative']), reasks: 1 });
        sentiment.value('x').subscribe({ error: (e: unknown) => (error = e) });
      });
      expect(error).toBe(broken);
    });

    it('reports JSON that does not match an object schema without re-asking by default', () => {
      let error: RxllmError | undefined;
      createTestScheduler().run(({ cold, expectSubscriptions }) => {
        const answer = cold('--(a|)', events({ a: '{"title":"Rx","keywords":["only one"]}' }));
        const summary = step('summary', () => ask('s'), { transport: routedTransport({ s: [answer] }), output: Summary });
        summary.run('x').subscribe({ error: (e: RxllmError) => (error = e) });
        expectSubscriptions(answer.subscriptions).toBe('^-!');
      });
      expect(error?.message).toMatchInlineSnapshot(`
        "step "summary" answered JSON that does not match its output schema:
        ✖ Too small: expected array to have exactly 2 items
          → at keywords
        The answer is in error.raw. Make the prompt more explicit, loosen the schema, or raise \`reasks\`."
      `);
    });
  });

  describe('configuration', () => {
    const transport = routedTransport({});

    it('rejects missing or wrong parameters at construction', () => {
      const build = () => step('', () => ask('x'), { transport: undefined as never, reasks: -1 });
      expect(build).toThrow(expect.objectContaining({ code: 'invalid-config' }));
      expect(messageOf(build)).toMatchInlineSnapshot(`
        "step(""): invalid options:
        ✖ expected the step's name, a non-empty string
          → at name
        ✖ expected a Transport, a function (request, context?) => Observable<LlmEvent>, such as sseTransport(...)
          → at config.transport
        ✖ Too small: expected number to be >=0
          → at config.reasks"
      `);
      expect(() => step('s', () => ask('x'), { transport, reasks: 1.5 })).toThrow(
        expect.objectContaining({ code: 'invalid-config' }),
      );
      // The scheduler is checked like every other constructor's: a deadline needs its timers.
      expect(() => step('s', () => ask('x'), { transport, scheduler: { now: () => 0 } as never })).toThrow(/step\("s"\): invalid options:\n✖ expected a SchedulerLike/);
      // A misspelt option is an error, not silently ignored.
      expect(() => step('s', () => ask('x'), { transport, reask: 1 } as never)).toThrow(/Unrecognized key: "reask"/);
    });

    it('rejects an output schema that JSON Schema cannot express, at construction', () => {
      const build = () => step('when', () => ask('x'), { transport, output: z.object({ at: z.date() }) });
      expect(build).toThrow(expect.objectContaining({ code: 'invalid-config' }));
      expect(messageOf(build)).toMatchInlineSnapshot(`"step "when": its output schema cannot be expressed as JSON Schema (Date cannot be represented in JSON Schema). Use JSON types (string, number, boolean, enum, object, array) and convert afterwards, or pass the JSON Schema as the step's \`jsonSchema\` option."`);
    });
  });
});
