import { TestScheduler } from 'rxjs/testing';
import type { LlmRequest } from '../../src/core/request';
import { prefetcher } from '../../src/pipeline/prefetcher';
import { prefetchWhen } from '../../src/pipeline/prefetchWhen';
import { finishEvent, textEvent } from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';

const ask = (content: string): LlmRequest => ({ model: 'm', messages: [{ role: 'user', content }], temperature: 0 });
const values = { a: textEvent('answer'), f: finishEvent('stop') };

describe('prefetchWhen', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  it('passes values through and starts each value’s predicted follow-ups as it passes', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const summaries = hot('   --s-----t--|');
      const summariesSubs = '   ^----------!';
      const expected = '        --s-----t--|';
      const keywords = cold('     -a-f|     ', values);
      const keywordsSubs = ['   --^---!     ', '--------^---!'];

      const ahead = prefetcher({ transport: () => keywords, scheduler: testScheduler });
      const result = summaries.pipe(prefetchWhen(ahead, (summary: string) => ask(`keywords of ${summary}`)));

      expectObservable(result).toBe(expected);
      expectSubscriptions(summaries.subscriptions).toBe(summariesSubs);
      expectSubscriptions(keywords.subscriptions).toBe(keywordsSubs);
    });
  });

  it('starts several follow-ups, named or by request, and skips a value predicting nothing', () => {
    const started: string[] = [];
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const source = hot('   -x-y-|');
      const ahead = prefetcher({
        transport: (request) => {
          started.push(String(request.messages[0]!.content));
          return cold('-a-f|', values);
        },
        scheduler: testScheduler,
      });

      const result = source.pipe(
        prefetchWhen(ahead, (value: string) =>
          value === 'x' ? [{ name: 'likely_followup_keywords', request: ask('keywords') }, ask('translate')] : null,
        ),
      );

      expectObservable(result).toBe('-x-y-|');
      testScheduler.schedule(() => {
        expect(ahead.has('likely_followup_keywords')).toBe(true);
        expect(ahead.has(ask('translate'))).toBe(true);
      }, 2);
    });
    expect(started).toEqual(['keywords', 'translate']);
  });

  it('sends a prediction with its context, named or not', () => {
    const started: unknown[] = [];
    testScheduler.run(({ cold, hot, expectObservable }) => {
      const ahead = prefetcher({
        transport: (request, context) => {
          started.push([request.messages[0]!.content, context]);
          return cold('-a-f|', values);
        },
        scheduler: testScheduler,
      });
      const result = hot('-x-|').pipe(
        prefetchWhen(ahead, () => [
          { name: 'kw', request: ask('keywords'), context: { step: 'keywords' } },
          { request: ask('translate'), context: { step: 'translate', lane: 'background' } },
        ]),
      );
      expectObservable(result).toBe('-x-|');
      testScheduler.schedule(() => expect(ahead.has('kw') && ahead.has(ask('translate'))).toBe(true), 2);
    });
    expect(started).toEqual([
      ['keywords', { step: 'keywords' }],
      ['translate', { step: 'translate', lane: 'background' }],
    ]);
  });

  it('errors with what predict throws, starting nothing for that value', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = hot('     -x-y-|');
      const sourceSubs = '     ^--!  ';
      const upstream = cold('  -a-f|', values);
      const upstreamSubs = '   -^---!';
      const failure = new Error('bad prediction');

      const ahead = prefetcher({ transport: () => upstream, scheduler: testScheduler });
      const result = source.pipe(
        prefetchWhen(ahead, (value: string) => {
          if (value === 'y') throw failure;
          return ask(value);
        }),
      );

      expectObservable(result).toBe('-x-#', undefined, failure);
      expectSubscriptions(source.subscriptions).toBe(sourceSubs);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('prefetches already started keep running after the source is unsubscribed (they are hot, until their TTL)', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = hot('     -x----');
      const upstream = cold('  -a 100ms f|', values);
      const upstreamSubs = '   -^ 30ms ! ';

      const ahead = prefetcher({ transport: () => upstream, ttl: 31, scheduler: testScheduler });
      const result = source.pipe(prefetchWhen(ahead, (value: string) => ask(value)));

      expectObservable(result, '^--!').toBe('-x-');
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('the predicted follow-up is then answered by take()', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = hot('     -x|');
      const upstream = cold('  -a-f|', values);
      const upstreamSubs = '   -^---!';

      const ahead = prefetcher({ transport: () => upstream, scheduler: testScheduler });
      source.pipe(prefetchWhen(ahead, (value: string) => ({ name: 'next', request: ask(value) }))).subscribe();

      expectObservable(ahead.take('next'), '10ms ^').toBe('10ms (af|)', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });
});
