/*
 * step({ output }) and parse() with the three schema libraries users bring: zod 4 (which
 * produces its own JSON Schema through ~standard.jsonSchema), zod 3.25 and valibot (which do not:
 * the step asks for JSON in words, or sends the jsonSchema the user passes). Each is validated
 * through its own ~standard.validate; valibot's async pipeline checks the Promise path.
 */
import { lastValueFrom, Observable, of, toArray } from 'rxjs';
import * as v from 'valibot';
import { z } from 'zod';
import { z as z3 } from 'zod3';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { isRxllmError, type RxllmError } from '../../src/core/errors';
import { parse } from '../../src/operators/parse';
import { step } from '../../src/pipeline/step';
import { ask, createTestScheduler, events, routedTransport } from './fakes';

/** A transport that answers each request with the next text, and records the requests. */
function answering(...texts: string[]) {
  const requests: LlmRequest[] = [];
  const transport = (request: LlmRequest): Observable<LlmEvent> => {
    requests.push(request);
    const text = texts[requests.length - 1];
    if (text === undefined) throw new Error(`no answer #${requests.length}`);
    return of({ type: 'text', choice: 0, text } as LlmEvent, { type: 'finish', choice: 0, reason: 'stop' } as LlmEvent);
  };
  return Object.assign(transport, { requests });
}

async function failure(run: Observable<unknown>): Promise<RxllmError> {
  const error = await lastValueFrom(run).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isRxllmError(error)) throw new Error(`expected an RxllmError, got ${String(error)}`);
  return error;
}

const libraries = {
  'zod 4': { Summary: z.object({ title: z.string(), words: z.number().int() }), Sentiment: z.enum(['positive', 'negative']) },
  'zod 3': { Summary: z3.object({ title: z3.string(), words: z3.number().int() }), Sentiment: z3.enum(['positive', 'negative']) },
  valibot: {
    Summary: v.object({ title: v.string(), words: v.pipe(v.number(), v.integer()) }),
    Sentiment: v.picklist(['positive', 'negative']),
  },
};

describe.each(Object.entries(libraries))('step and parse with %s', (library, { Summary, Sentiment }) => {
  const producesJsonSchema = library === 'zod 4';

  it('validates and types the value (an object, and an enum answered as a bare label or a { value } wrapper)', async () => {
    const transport = answering('```json\n{"title":"Rx","words":3}\n```', 'Positive.', '{"value":"negative"}');
    const summary = step('summary', () => ask('m'), { transport, output: Summary });
    const sentiment = step('sentiment', () => ask('m'), { transport, output: Sentiment });
    const value: { title: string; words: number } = await lastValueFrom(summary.value('x'));
    expect(value).toEqual({ title: 'Rx', words: 3 });
    const label: 'positive' | 'negative' = await lastValueFrom(sentiment.value('x'));
    expect(label).toBe('positive');
    expect(await lastValueFrom(sentiment.value('x'))).toBe('negative');
  });

  it(
    producesJsonSchema
      ? "sends the library's own JSON Schema as a json_schema response format"
      : 'asks for JSON in words (json_object mode and a system message), as the library gives no JSON Schema',
    async () => {
      const transport = answering('{"title":"Rx","words":3}');
      await lastValueFrom(step('summary', () => ask('m'), { transport, output: Summary }).value('x'));
      const [request] = transport.requests;
      if (producesJsonSchema) {
        expect(request!.response_format).toEqual({
          type: 'json_schema',
          json_schema: {
            name: 'summary',
            schema: expect.objectContaining({ type: 'object', required: ['title', 'words'] }),
          },
        });
        expect(request!.messages).toHaveLength(1);
      } else {
        expect(request!.response_format).toEqual({ type: 'json_object' });
        expect(request!.messages).toEqual([
          ask('m').messages[0],
          { role: 'system', content: expect.stringContaining('Reply with only a JSON object') },
        ]);
      }
    },
  );

  it('sends the jsonSchema passed in the options, whatever the library produces', async () => {
    const jsonSchema = { type: 'object', properties: { title: { type: 'string' }, words: { type: 'integer' } }, required: ['title', 'words'] };
    const transport = answering('{"title":"Rx","words":3}');
    await lastValueFrom(step('summary', () => ask('m'), { transport, output: Summary, jsonSchema }).value('x'));
    expect(transport.requests[0]!.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'summary', schema: jsonSchema } });
    expect(transport.requests[0]!.messages).toHaveLength(1);
  });

  it("errors invalid-output with the library's issues in error.issues and in the message", async () => {
    const transport = answering('{"title":"Rx","words":2.5}');
    const error = await failure(step('summary', () => ask('m'), { transport, output: Summary }).value('x'));
    expect(error.code).toBe('invalid-output');
    expect(error.raw).toBe('{"title":"Rx","words":2.5}');
    expect(error.step).toBe('summary');
    expect(error.issues).toEqual([expect.objectContaining({ message: expect.any(String) })]);
    const [issue] = error.issues!;
    expect((issue!.path ?? []).map((segment) => (typeof segment === 'object' ? segment.key : segment))).toEqual(['words']);
    expect(error.message).toMatch(/^step "summary" answered JSON that does not match its output schema:\n✖ .+\n {2}→ at words\nThe answer is in error\.raw\./);
  });

  it("re-asks with the library's issues in the follow-up message", async () => {
    const transport = answering('{"title":"Rx"}', '{"title":"Rx","words":1}');
    const summary = step('summary', () => ask('m'), { transport, output: Summary, reasks: 1 });
    expect(await lastValueFrom(summary.value('x'))).toEqual({ title: 'Rx', words: 1 });
    const followUp = transport.requests[1]!.messages.at(-1)!;
    expect(followUp).toEqual({ role: 'user', content: expect.stringMatching(/does not match the required format:\n✖ .+\n {2}→ at words\n/) });
  });

  it('parse() validates collected texts the same way', async () => {
    const texts = of('{"title":"Rx","words":3}', '{"title":"Ry","words":4}');
    expect(await lastValueFrom(texts.pipe(parse(Summary), toArray()))).toEqual([
      { title: 'Rx', words: 3 },
      { title: 'Ry', words: 4 },
    ]);
    expect(await lastValueFrom(of('Negative!').pipe(parse(Sentiment)))).toBe('negative');
    const error = await failure(of('maybe').pipe(parse(Sentiment, { step: 'sentiment' })));
    expect(error).toMatchObject({ code: 'invalid-output', raw: 'maybe', step: 'sentiment' });
    expect(error.issues!.length).toBeGreaterThan(0);
  });
});

describe('an asynchronous validator (valibot pipeAsync)', () => {
  const Known = v.pipeAsync(
    v.object({ city: v.string() }),
    v.checkAsync(async (value) => ['Oslo', 'Lima'].includes(value.city), 'not a city we know'),
  );

  it('step waits for it: the value when it passes, invalid-output with its issue when not', async () => {
    const ok = step('city', () => ask('m'), { transport: answering('{"city":"Oslo"}'), output: Known });
    expect(await lastValueFrom(ok.value('x'))).toEqual({ city: 'Oslo' });
    const bad = step('city', () => ask('m'), { transport: answering('{"city":"Atlantis"}'), output: Known });
    const error = await failure(bad.value('x'));
    expect(error.code).toBe('invalid-output');
    expect(error.message).toContain('✖ not a city we know');
  });

  it('parse keeps the order of texts while a validation is pending', async () => {
    const texts = of('{"city":"Lima"}', '{"city":"Oslo"}');
    expect(await lastValueFrom(texts.pipe(parse(Known), toArray()))).toEqual([{ city: 'Lima' }, { city: 'Oslo' }]);
  });

  it('an unsubscribe while the validation is pending drops its answer: a failed check then sends no re-ask', async () => {
    let settle: ((ok: boolean) => void) | undefined;
    const Pending = v.pipeAsync(
      v.string(),
      v.checkAsync(() => new Promise<boolean>((resolve) => (settle = resolve)), 'no'),
    );
    const transport = answering('"x"', '"y"');
    const seen: unknown[] = [];
    const subscription = step('p', () => ask('m'), { transport, output: Pending, reasks: 1 })
      .run('x')
      .subscribe({ next: (state) => seen.push(state.status), error: (e: unknown) => seen.push(e) });
    await new Promise((resolve) => setImmediate(resolve));
    expect(settle).toBeDefined(); // the check is running
    subscription.unsubscribe();
    settle!(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(transport.requests).toHaveLength(1);
    expect(seen).toEqual(['waiting', 'streaming']);
  });
});

describe('a synchronous Standard Schema validator keeps the step exact in virtual time', () => {
  it('emits done in the frame the answer finishes', () => {
    createTestScheduler().run(({ cold, expectObservable }) => {
      const answer = cold('--a-(f|)', events({ a: '{"title":"Rx","words":1}' }));
      const summary = step('s', () => ask('s'), { transport: routedTransport({ s: [answer] }), output: libraries.valibot.Summary });
      expectObservable(summary.value('x')).toBe('----(v|)', { v: { title: 'Rx', words: 1 } });
    });
  });
});

describe('what step() and parse() reject at construction', () => {
  it('a value that is not a Standard Schema validator', () => {
    expect(() => step('s', () => ask('m'), { transport: answering(), output: { parse: () => 1 } as never })).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('expected a Standard Schema validator') }),
    );
  });

  it('a jsonSchema without an output schema', () => {
    expect(() => step('s', () => ask('m'), { transport: answering(), jsonSchema: { type: 'object' } })).toThrow(
      expect.objectContaining({ code: 'invalid-config', path: 'config.jsonSchema', message: expect.stringContaining('give the output schema too') }),
    );
  });
});
