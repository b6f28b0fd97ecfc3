import { lastValueFrom, map, type SchedulerLike, type Subscription, switchMap, tap, timer, toArray, VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { isRxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { result } from '../../src/operators/result';
import type { SimulatorProfiles } from '../../src/simulator/profiles';
import { tokenize } from '../../src/simulator/tokenize';
import { createRng } from '../../src/simulator/prng';
import { withMiddleware, type Transport } from '../../src/core/transport';
import { batch } from '../../src/middleware/batch';
import { Simulator } from '../../src/simulator/plan';
import { simulatedTransport } from '../../src/simulator/simulatedTransport';
import { boundedScheduler } from '../helpers/boundedScheduler';
import { createTestScheduler } from '../helpers/marbles';

// A profile with no randomness in its timing: first token at 300 ms, then one every 10 ms.
const profiles: SimulatorProfiles = {
  'gpt-x': { ttftMs: 300, tokensPerSecond: 100, jitter: 0, outputTokens: 3, faults: [] },
};
const ask = (content: string, extra: Partial<LlmRequest> = {}): LlmRequest => ({
  model: 'gpt-x',
  messages: [{ role: 'user', content }],
  ...extra,
});
const free = ask('Explain why streaming helps latency in chat interfaces');
const sentiment = ask('Classify the sentiment as positive or negative: I love this phone, the battery is great.');
const letter = (event: LlmEvent): string => event.type.charAt(0); // text → t, finish → f, usage → u, tool-call → t

describe('simulatedTransport', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  describe('latency in virtual time', () => {
    it('emits the first token at exactly the profile TTFT, then one token per 1000/tps ms', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles, scheduler: testScheduler });
        const expected = '300ms t 9ms t 9ms (tfu|)'; // each letter takes a frame, hence 9ms

        expectObservable(llm(free).pipe(map(letter))).toBe(expected);
      });
    });

    it('runs on asyncScheduler by default, which TestScheduler.run() virtualises', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles });
        const expected = '300ms t 9ms t 9ms (tfu|)';

        expectObservable(llm(free).pipe(map(letter))).toBe(expected);
      });
    });

    it('streams the answer as token-sized text pieces, then finish and usage', async () => {
      const events = await lastValueFrom(simulatedTransport({ profiles, scheduler: testSchedulerFlushing() })(free).pipe(toArray()));
      const texts = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text);
      expect(texts).toHaveLength(3);
      expect(tokenize(texts.join(''))).toEqual(texts);
      expect(events.slice(-2)).toEqual([
        { type: 'finish', choice: 0, reason: 'stop' },
        { type: 'usage', choice: 0, usage: { prompt_tokens: expect.any(Number), completion_tokens: 3, total_tokens: expect.any(Number) } },
      ]);
    });

    it('with stream: false, emits the whole answer at once when generation would end', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles });
        const expected = '320ms (tfu|)';

        expectObservable(llm({ ...free, stream: false }).pipe(map(letter))).toBe(expected);
      });
    });

    it('adds the tail multiplier to the time to first token', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles: { 'gpt-x': { ...profiles['gpt-x'], tail: { probability: 1, multiplier: 3 } } } });
        const expected = '900ms t 9ms t 9ms (tfu|)';

        expectObservable(llm(free).pipe(map(letter))).toBe(expected);
      });
    });

    it('applies a per-request rxllm_sim override without changing the answer text', async () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles });
        const expected = '120ms (tfu|)';

        expectObservable(llm({ ...sentiment, rxllm_sim: 'ttft=120' } as LlmRequest).pipe(map(letter))).toBe(expected);
      });
      const plain = await answerOf(simulatedTransport({ profiles, scheduler: testSchedulerFlushing() })(sentiment));
      const overridden = await answerOf(
        simulatedTransport({ profiles, scheduler: testSchedulerFlushing() })({ ...sentiment, rxllm_sim: 'ttft=5,tps=1000' } as LlmRequest),
      );
      expect(overridden).toBe(plain);
      expect(plain).toBe('positive');
    });

    it('takes free-form length and speed from an override', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles });
        const expected = '50ms t 19ms t 19ms t 19ms (tfu|)';

        expectObservable(llm({ ...free, rxllm_sim: 'ttft=50,tps=50,tokens=4' } as LlmRequest).pipe(map(letter))).toBe(expected);
      });
    });

    it('draws lognormal TTFTs from the seed: same seed, same times; another seed, other times', () => {
      // Each flush leaves the clock where the last request ended, so compare gaps from each subscribe.
      const gaps = (seed: number) => {
        const scheduler = virtualScheduler();
        const llm = simulatedTransport({ seed, scheduler });
        const out: number[] = [];
        for (let i = 0; i < 5; i++) {
          const start = scheduler.now();
          let first = -1;
          // Different prompts: the draws are keyed by content, so the same prompt would take the same time.
          llm(ask(`Classify the sentiment as positive or negative: review ${i} loved the battery.`, { model: 'gpt-4o-mini' })).subscribe((event) => {
            if (event.type === 'text' && first === -1) first = scheduler.now() - start;
          });
          scheduler.flush();
          out.push(first);
        }
        return out;
      };
      const a = gaps(7);
      expect(gaps(7)).toEqual(a);
      expect(gaps(8)).not.toEqual(a);
      expect(new Set(a).size).toBeGreaterThan(1);
      for (const ttft of a) expect(ttft).toBeGreaterThan(100);
    });
  });

  describe('latency keyed by content (a fair comparison of run shapes)', () => {
    /** The time to first token of each request, subscribed at the given virtual times and played to the end. */
    const firstTokens = (llm: ReturnType<typeof simulatedTransport>, scheduler: VirtualTimeScheduler, requests: { at: number; request: LlmRequest }[]) => {
      const out = requests.map(() => -1);
      for (const [index, { at, request }] of requests.entries()) {
        scheduler.schedule(() => {
          llm(request).subscribe((event) => {
            if (event.type === 'text' && out[index] === -1) out[index] = scheduler.now() - at;
          });
        }, at);
      }
      scheduler.flush();
      return out;
    };
    const summary = ask('Summarize in one sentence: The build is green and the release can go out today.', { model: 'gpt-4o-mini' });

    it('gives a request the same time whatever came before it: asked again after its answer, or after other requests', () => {
      const scheduler = virtualScheduler();
      const llm = simulatedTransport({ seed: 3, scheduler });
      const [alone] = firstTokens(llm, scheduler, [{ at: 0, request: summary }]);
      const scheduler2 = virtualScheduler();
      const other = simulatedTransport({ seed: 3, scheduler: scheduler2 });
      // Another simulator, other requests first (a different place in the request order), then the same request twice in a row.
      const times = firstTokens(other, scheduler2, [
        { at: 0, request: { ...sentiment, model: 'gpt-4o-mini' } },
        { at: 0, request: ask('Extract 5 keywords: streams, schedulers and marbles.', { model: 'gpt-4o-mini' }) },
        { at: 20_000, request: summary },
        { at: 40_000, request: summary },
      ]);
      expect(times[2]).toBe(alone);
      expect(times[3]).toBe(alone);
    });

    it('draws anew for an identical request sent while the first is in flight (a hedge), and again after a fault (a retry)', () => {
      const scheduler = virtualScheduler();
      const llm = simulatedTransport({ seed: 3, scheduler, profiles: { 'gpt-4o-mini': { ttftMs: { median: 400, p95: 2000 }, tail: { probability: 0, multiplier: 1 } } } });
      const times = firstTokens(llm, scheduler, [
        { at: 0, request: summary },
        { at: 1, request: summary },
        { at: 2, request: summary },
      ]);
      expect(new Set(times).size).toBe(3);
      // A simulator where every request fails: the retries of one request are not all the same attempt.
      const failing = new Simulator({ seed: 3, profiles: { m: { faults: [{ type: 'status', status: 503, probability: 0.5 }] } } });
      const plans = Array.from({ length: 8 }, () => failing.planChat({ ...summary, model: 'm' }, { stream: true, includeUsage: true }));
      expect(plans.map((plan) => plan.attempt)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(new Set(plans.map((plan) => plan.ending.type)).size).toBe(2);
      // Once one is answered in full, the next identical request draws as the first did.
      const answered = plans.find((plan) => plan.ending.type === 'complete')!;
      failing.answered(answered);
      const again = failing.planChat({ ...summary, model: 'm' }, { stream: true, includeUsage: true });
      expect(again.attempt).toBe(0);
      // (Only the request id, from the request order, differs.)
      expect({ times: again.stepTimes, ending: again.ending.type }).toEqual({ times: plans[0]!.stepTimes, ending: plans[0]!.ending.type });
    });
  });

  describe('packed prompts (what batch() sends)', () => {
    const REVIEWS = [
      'Classify the sentiment as positive or negative: Wonderful speakers, I love them.',
      'Classify the sentiment as positive or negative: Terrible battery, it died in an hour.',
      'Classify the sentiment as positive or negative: The app crashes every time I open it.',
      'Classify the sentiment as positive or negative: Great value and fast delivery.',
      'Extract 3 keywords: streaming pipelines, schedulers and marble tests for RxJS operators.',
      'Summarize in one sentence: The build is green.',
      'hi there',
    ];
    const request = (content: string): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content }], max_tokens: 60 });

    /** Every answer's text, each request subscribed at time 0, on one virtual clock. */
    const answers = (llm: Transport, scheduler: VirtualTimeScheduler, lane?: string): string[] => {
      const out = REVIEWS.map(() => '');
      REVIEWS.forEach((review, index) =>
        llm(request(review), lane === undefined ? undefined : { lane }).subscribe((event) => {
          if (event.type === 'text') out[index] += event.text;
        }),
      );
      scheduler.flush();
      return out;
    };

    it('answers each packed prompt with exactly what that prompt gets alone', () => {
      const aloneScheduler = virtualScheduler();
      const alone = answers(simulatedTransport({ seed: 5, scheduler: aloneScheduler }), aloneScheduler);
      expect(alone.slice(0, 4)).toEqual(['positive', 'negative', 'negative', 'positive']);

      const scheduler = virtualScheduler();
      const sent: LlmRequest[] = [];
      const upstream = simulatedTransport({ seed: 5, scheduler });
      const recording: Transport = (req, context) => {
        sent.push(req);
        return upstream(req, context);
      };
      const batched = batch({ threshold: 0, maxBatchSize: REVIEWS.length, scheduler });
      const packed = answers(withMiddleware(recording, batched), scheduler, 'background');
      // One packed request went out, and its answer was split back (no fallback to sending each alone).
      expect(sent).toHaveLength(1);
      expect(sent[0]!.response_format?.type).toBe('json_schema');
      expect(batched.stats()).toMatchObject({ batches: 1, batchedItems: REVIEWS.length, fallbacks: 0 });
      expect(packed).toEqual(alone);
    });
  });

  // Issue 19: a request that started at a fractional virtual time could spin forever.
  it('plays every token on its frame, and never spins, for 300 requests started at random fractional times', () => {
    const random = createRng('simulatedTransport fractional starts').next;
    for (let trial = 0; trial < 300; trial++) {
      const start = random() * 10 ** (random() * 5);
      const frames: number[] = [];
      testScheduler = createTestScheduler();
      testScheduler.run(() => {
        const clock = boundedScheduler(testScheduler, 50);
        const llm = simulatedTransport({ profiles, scheduler: clock });
        timer(start, clock)
          .pipe(switchMap(() => llm(free)))
          .subscribe(() => frames.push(testScheduler.now()));
      });
      expect(frames).toEqual([300, 310, 320, 320, 320].map((at) => start + at)); // text, text, text + finish + usage
    }
  });

  describe('the Transport contract', () => {
    it('is cold: nothing is planned before subscribe, and each subscription is a new request', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles: { 'gpt-x': { ...profiles['gpt-x'], faults: [{ type: 'status', status: 500, firstRequests: 1 }] } } });
        const request$ = llm(free);
        const first = '#';
        const second = '300ms t 9ms t 9ms (tfu|)';

        expectObservable(request$.pipe(map(letter))).toBe(first, undefined, expect.objectContaining({ code: 'server' }));
        expectObservable(request$.pipe(map(letter))).toBe(second);
      });
    });

    it('cancels its timers on unsubscribe', () => {
      const scheduler = virtualScheduler();
      const scheduled: Subscription[] = [];
      const spy: SchedulerLike = {
        now: () => scheduler.now(),
        schedule: (work, delay, state) => {
          const subscription = scheduler.schedule(work as never, delay, state);
          scheduled.push(subscription);
          return subscription;
        },
      };
      const seen: LlmEvent[] = [];
      const subscription = simulatedTransport({ profiles, scheduler: spy })(free).subscribe((event) => seen.push(event));
      scheduler.maxFrames = 305;
      scheduler.flush();
      expect(seen.map(letter)).toEqual(['t']);
      subscription.unsubscribe();
      expect(scheduled.length).toBeGreaterThan(0);
      expect(scheduled.every((s) => s.closed)).toBe(true);
      scheduler.maxFrames = Infinity;
      scheduler.flush();
      expect(seen).toHaveLength(1);
    });

    it('validates the request like the real transports: invalid-request at once, nothing simulated', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles });
        expectObservable(llm({ model: 'gpt-x', messages: [] })).toBe(
          '#',
          undefined,
          expect.objectContaining({ code: 'invalid-request', path: 'messages' }),
        );
        expectObservable(llm({ ...free, rxllm_sim: 'ttf=3' } as LlmRequest)).toBe(
          '#',
          undefined,
          expect.objectContaining({ code: 'invalid-request', path: 'rxllm_sim', message: expect.stringContaining('unknown key "ttf"') }),
        );
      });
    });

    it('throws invalid-config at construction for bad profiles or seed', () => {
      expect(() => simulatedTransport({ profiles: { m: { ttftMs: -1 } } })).toThrow(expect.objectContaining({ code: 'invalid-config', path: 'm.ttftMs' }));
      expect(() => simulatedTransport({ profiles: { m: { ttft: 300 } as never } })).toThrow(/Unrecognized key.*ttft/);
      expect(() => simulatedTransport({ seed: 1.5 })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    });

    it('gives unknown model names the fallback profile instead of rejecting them', async () => {
      const scheduler = testSchedulerFlushing();
      const answer = await lastValueFrom(simulatedTransport({ scheduler })({ ...sentiment, model: 'my-own-model' }).pipe(result()));
      expect(answer.text).toBe('positive');
    });
  });

  describe('faults, as the HTTP transports report them', () => {
    const withFault = (fault: NonNullable<SimulatorProfiles[string]['faults']>[number]): SimulatorProfiles => ({
      'gpt-x': { ...profiles['gpt-x'], outputTokens: 5, faults: [fault] },
    });

    it('429 → rate-limited with retryAfterMs, at the fault time', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles: withFault({ type: 'status', status: 429, retryAfterMs: 2500, afterMs: 40, probability: 1 }) });
        const expected = '40ms #';

        expectObservable(llm(free)).toBe(
          expected,
          undefined,
          expect.objectContaining({
            code: 'rate-limited',
            status: 429,
            retryAfterMs: 2500,
            providerCode: 'rate_limit_exceeded',
            tokensEmitted: false,
            requestId: expect.stringMatching(/^req_sim_/),
            message: expect.stringContaining('the server asks to wait 2500 ms'),
          }),
        );
      });
    });

    it('5xx → server', () => {
      testScheduler.run(({ expectObservable }) => {
        const status500 = simulatedTransport({ profiles: withFault({ type: 'status', status: 500, probability: 1 }) });
        const status503 = simulatedTransport({ profiles: withFault({ type: 'status', status: 503, retryAfterMs: 1000, probability: 1 }) });

        expectObservable(status500(free)).toBe('#', undefined, expect.objectContaining({ code: 'server', status: 500 }));
        expectObservable(status503(free)).toBe('#', undefined, expect.objectContaining({ code: 'server', status: 503, retryAfterMs: 1000 }));
      });
    });

    it('disconnect after N tokens → connection-lost with the partial text, when token N+1 was due', async () => {
      const events: LlmEvent[] = [];
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles: withFault({ type: 'disconnect', afterTokens: 2, probability: 1 }) });
        const expected = '300ms t 9ms t 9ms #';

        expectObservable(llm(free).pipe(tap((e) => events.push(e)), map(letter))).toBe(
          expected,
          undefined,
          expect.objectContaining({ code: 'connection-lost', tokensEmitted: true, status: 200, partialText: expect.any(String) }),
        );
      });
      const partial = events.map((e) => (e as { text: string }).text).join('');
      let caught: unknown;
      await lastValueFrom(
        simulatedTransport({ profiles: withFault({ type: 'disconnect', afterTokens: 2, probability: 1 }), scheduler: testSchedulerFlushing() })(free),
      ).catch((error: unknown) => (caught = error));
      expect(isRxllmError(caught) && caught.partialText).toBe(partial);
    });

    it('stall after N tokens → nothing more until unsubscribed', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles: withFault({ type: 'stall', afterTokens: 1, probability: 1 }) });
        const unsubscribe = '^ 60000ms !';
        const expected = '300ms t';

        expectObservable(llm(free).pipe(map(letter)), unsubscribe).toBe(expected);
      });
    });

    it('stall before headers → nothing at all', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles: withFault({ type: 'stall', probability: 1 }) });
        expectObservable(llm(free), '^ 60000ms !').toBe('');
      });
    });

    it('firstRequests faults hit exactly the first N requests of that model', () => {
      testScheduler.run(({ expectObservable }) => {
        const llm = simulatedTransport({ profiles: withFault({ type: 'status', status: 503, firstRequests: 2 }) });
        const error = expect.objectContaining({ code: 'server' });

        expectObservable(llm(free).pipe(map(letter))).toBe('#', undefined, error);
        expectObservable(llm({ ...free, model: 'other' }).pipe(map(letter)), '^ 100ms !').toBe(''); // another model: not counted
        expectObservable(llm(free).pipe(map(letter))).toBe('#', undefined, error);
        expectObservable(llm(free).pipe(map(letter))).toBe('300ms t 9ms t 9ms t 9ms t 9ms (tfu|)');
      });
    });

    it('probabilistic faults follow the seed', () => {
      const outcomes = (seed: number) => {
        const scheduler = virtualScheduler();
        const llm = simulatedTransport({ seed, scheduler, profiles: withFault({ type: 'status', status: 500, probability: 0.5 }) });
        const out: string[] = [];
        for (let i = 0; i < 40; i++) llm(free).subscribe({ complete: () => out.push('ok'), error: () => out.push('fail') });
        scheduler.flush();
        return out.join(',');
      };
      const first = outcomes(3);
      expect(outcomes(3)).toBe(first);
      expect(first).toContain('ok');
      expect(first).toContain('fail');
      expect(outcomes(4)).not.toBe(first);
    });
  });

  describe('answers', () => {
    it('caps the answer at max_tokens with finish_reason "length"', async () => {
      const answer = await lastValueFrom(
        simulatedTransport({ profiles, scheduler: testSchedulerFlushing() })({ ...free, max_completion_tokens: 2, rxllm_sim: 'tokens=40' } as LlmRequest).pipe(result()),
      );
      expect(answer.finishReason).toBe('length');
      expect(answer.usage?.completion_tokens).toBe(2);
      expect(tokenize(answer.text)).toHaveLength(2);
    });

    it('answers a tools request with a streamed tool call whose arguments fit the parameters', async () => {
      const request = ask('What is the weather in Oslo today?', {
        tools: [
          { type: 'function', function: { name: 'search_docs', description: 'Search the documentation', parameters: { type: 'object', properties: { query: { type: 'string' } } } } },
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Current weather for a city',
              parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['city', 'days'] },
            },
          },
        ],
      });
      const events = await lastValueFrom(simulatedTransport({ profiles, scheduler: testSchedulerFlushing() })(request).pipe(toArray()));
      expect(events[0]).toEqual({ type: 'tool-call', choice: 0, callIndex: 0, id: expect.stringMatching(/^call_/), name: 'get_weather', arguments: '' });
      const answer = await lastValueFrom(simulatedTransport({ profiles, scheduler: testSchedulerFlushing() })(request).pipe(result()));
      expect(answer.finishReason).toBe('tool_calls');
      const args = JSON.parse(answer.toolCalls[0]!.arguments) as { city: string; days: number };
      expect(args.city).toBe('Oslo');
      expect(args.days).toBeGreaterThanOrEqual(1);
      expect(args.days).toBeLessThanOrEqual(7);
    });

    it('gives n choices their own answers', async () => {
      const events = await lastValueFrom(simulatedTransport({ profiles, scheduler: testSchedulerFlushing() })({ ...free, n: 2 }).pipe(toArray()));
      const finishes = events.filter((e) => e.type === 'finish').map((e) => e.choice);
      expect(finishes.sort()).toEqual([0, 1]);
      const textOf = (choice: number) => events.filter((e) => e.type === 'text' && e.choice === choice).map((e) => (e as { text: string }).text).join('');
      expect(textOf(0)).not.toBe('');
      expect(textOf(1)).not.toBe('');
    });

    it('omits usage when stream_options is set without include_usage, as sseTransport does', async () => {
      const events = await lastValueFrom(
        simulatedTransport({ profiles, scheduler: testSchedulerFlushing() })({ ...free, stream_options: {} }).pipe(toArray()),
      );
      expect(events.some((e) => e.type === 'usage')).toBe(false);
    });
  });
});

/** Virtual time with no frame limit (a TestScheduler outside run() stops at frame 750). */
function virtualScheduler(): VirtualTimeScheduler {
  return new VirtualTimeScheduler(VirtualAction, Infinity);
}

/** Virtual time for plain async tests: every scheduled action runs at once, in time order (never compare frames with it). */
function testSchedulerFlushing(): SchedulerLike {
  const scheduler = virtualScheduler();
  return {
    now: () => scheduler.now(),
    schedule: (work, delay, state) => {
      const subscription = scheduler.schedule(work as never, delay, state);
      queueMicrotask(() => scheduler.flush());
      return subscription;
    },
  };
}

async function answerOf(events$: ReturnType<ReturnType<typeof simulatedTransport>>): Promise<string> {
  return (await lastValueFrom(events$.pipe(result()))).text;
}
