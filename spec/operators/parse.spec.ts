import { lastValueFrom, of } from 'rxjs';
import { z } from 'zod';
import { RxllmError } from '../../src/core/errors';
import { answerParser, parse } from '../../src/operators/parse';
import { createTestScheduler } from '../helpers/marbles';

const Sentiment = z.enum(['positive', 'negative', 'neutral']);
const Keywords = z.object({ keywords: z.array(z.string()).min(1) });

describe('parse', () => {
  it('emits the parsed value of each text, and completes with the source', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const texts = cold('  --a--b--|', { a: '{"keywords":["rx"]}', b: '```json\n{"keywords":["llm","rx"]}\n```' });
      const textsSubs = '   ^-------!';
      const expected = '    --x--y--|';

      expectObservable(texts.pipe(parse(Keywords))).toBe(expected, { x: { keywords: ['rx'] }, y: { keywords: ['llm', 'rx'] } });
      expectSubscriptions(texts.subscriptions).toBe(textsSubs);
    });
  });

  it('errors invalid-output (raw text, the library\'s issues, the step) at the first text that does not match, and unsubscribes the source', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const texts = cold('  --a--b--c--|', { a: 'Positive.', b: 'mixed feelings', c: 'neutral' });
      const textsSubs = '   ^----!      ';
      const expected = '    --x--#      ';
      const issues = Sentiment.safeParse('mixed feelings').error!.issues;
      const error = new RxllmError(
        'invalid-output',
        'step "sentiment" answered text that is not JSON and does not match its output schema:\n' +
          '✖ Invalid option: expected one of "positive"|"negative"|"neutral"\n' +
          'The answer is in error.raw. Make the prompt more explicit, or loosen the schema.',
        { raw: 'mixed feelings', issues, step: 'sentiment' },
      );

      expectObservable(texts.pipe(parse(Sentiment, { step: 'sentiment' }))).toBe(expected, { x: 'positive' }, error);
      expectSubscriptions(texts.subscriptions).toBe(textsSubs);
    });
  });

  it('passes the source error on; unsubscribing unsubscribes the source', () => {
    createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const failure = new RxllmError('connection-lost', 'socket hang up');
      expectObservable(cold('--#', undefined, failure).pipe(parse(Keywords))).toBe('--#', undefined, failure);
      const slow = cold('   -----a|', { a: '{"keywords":["rx"]}' });
      expectObservable(slow.pipe(parse(Keywords)), '^--!').toBe('');
      expectSubscriptions(slow.subscriptions).toBe('^--!');
    });
  });

  it('without a step, says "the answer" and reports JSON of the wrong shape as such', async () => {
    const error = await lastValueFrom(of('{"keywords":[]}').pipe(parse(Keywords))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid-output', raw: '{"keywords":[]}' });
    expect((error as RxllmError).step).toBeUndefined();
    expect((error as RxllmError).message).toMatchInlineSnapshot(`
      "the answer is JSON that does not match its output schema:
      ✖ Too small: expected array to have >=1 items
        → at keywords
      The answer is in error.raw. Make the prompt more explicit, or loosen the schema."
    `);
  });

  it('accepts schemas JSON Schema cannot express (parsing needs none), and unwraps { value } for a non-object root', async () => {
    const Count = z.string().transform((text) => Number(text));
    expect(await lastValueFrom(of('{"value":"42"}').pipe(parse(Count)))).toBe(42);
    const Wrapper = z.object({ value: z.string() });
    expect(await lastValueFrom(of('{"value":"x"}').pipe(parse(Wrapper)))).toEqual({ value: 'x' });
  });

  it('throws invalid-config at once for a schema that is not a Standard Schema validator', () => {
    expect(() => parse({ parse: () => 1 } as never)).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('must be a Standard Schema validator (zod, valibot, arktype, ...)') }),
    );
  });
});

describe('answerParser (what parse and step() share)', () => {
  // Zod's validation is synchronous, so these parsers answer synchronously.
  type Parsed<O> = Exclude<ReturnType<ReturnType<typeof answerParser<O>>>, Promise<unknown>>;
  const sync =
    <O>(parser: (text: string) => Parsed<O> | Promise<Parsed<O>>) =>
    (text: string): Parsed<O> => {
      const result = parser(text);
      if (result instanceof Promise) throw new Error('expected a synchronous answer');
      return result;
    };
  const sentiment = sync(answerParser(Sentiment, 'wrapped'));
  const keywords = sync(answerParser(Keywords, 'object'));

  it.each([
    ['{"keywords":["rx"]}', ['rx']],
    ['```json\n{"keywords":["rx"]}\n```', ['rx']],
    ['```\n{"keywords":["rx"]}\n```', ['rx']],
    ['Sure! ```JSON {"keywords":["rx"]}``` Hope that helps.', ['rx']],
    ['  {"keywords":["rx"]}\n', ['rx']],
  ])('parses %j', (text, expected) => {
    expect(keywords(text)).toEqual({ ok: true, value: { keywords: expected } });
  });

  it.each([
    ['positive', 'positive'],
    ['Positive.', 'positive'],
    ['**NEGATIVE**', 'negative'],
    ['`neutral`', 'neutral'],
    ["'neutral'", 'neutral'],
    ['"negative"', 'negative'],
    ['{"value":"neutral"}', 'neutral'],
  ])('accepts the enum answer %j', (text, expected) => {
    expect(sentiment(text)).toEqual({ ok: true, value: expected });
  });

  it('rejects a label that is not an option, and says the text was not JSON', () => {
    const result = sentiment('mixed feelings');
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ json: false });
  });

  it('reports JSON of the wrong shape with the library\'s issues and json: true', () => {
    const result = keywords('{"keywords":[]}');
    expect(result).toMatchObject({ ok: false, json: true });
    expect(result.ok || result.issues.map((issue) => issue.path?.join('.'))).toEqual(['keywords']);
  });

  it('unwraps { value } only when wrapped, and only a lone value key', () => {
    expect(sentiment('{"value":"positive","extra":1}').ok).toBe(false);
    expect(answerParser(z.object({ value: z.string() }), 'object')('{"value":"x"}')).toEqual({ ok: true, value: { value: 'x' } });
  });
});
