import { defer, forkJoin, lastValueFrom, map, mergeMap, type Observable, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { isRxllmError, RxllmError } from '../../src/core/errors';
import { batchEmbeddings } from '../../src/load/batchEmbeddings';
import { type SimulatorServer, startSimulatorServer } from '../../src/node/simulatorServer';
import { embeddingsClient, type EmbeddingsClient } from '../../src/transport/embeddings';
import { createTestScheduler } from '../helpers/marbles';

const MODEL = 'text-embedding-3-small';
/** A vector that tells inputs apart. */
const vec = (input: string) => [input.length, input.charCodeAt(0)];
const v = { A: vec('a'), B: vec('b'), C: vec('c'), D: vec('d'), G: vec('good') };
const at = <T>(ms: number, source: Observable<T>) => timer(ms).pipe(mergeMap(() => source));

interface Call {
  inputs: string[];
  model: string;
}

/**
 * A client whose n-th call plays `responses[n]` (a cold observable whose value only marks the answer's time) and
 * answers with `answer(inputs)`, by default the vector of each input; `answer` may throw.
 */
function fakeClient(responses: Observable<unknown>[], answer: (inputs: readonly string[]) => number[][] = (inputs) => inputs.map(vec)) {
  const calls: Call[] = [];
  const client: EmbeddingsClient = (inputs, model) =>
    defer(() => {
      const response = responses[calls.length];
      if (response === undefined) throw new Error(`unexpected call ${calls.length} for ${inputs.join(',')}`);
      calls.push({ inputs: [...inputs], model });
      return response.pipe(map(() => answer(inputs)));
    });
  return { client, calls };
}

describe('batchEmbeddings', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  it('sends an input alone and at once while the load is below the threshold', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const call = cold('30ms (x|)');
      const { client, calls } = fakeClient([call]);
      const embed = batchEmbeddings(client);

      expectObservable(embed('a', MODEL)).toBe('30ms (A|)', v);
      expectSubscriptions(call.subscriptions).toBe('^ 29ms !');
      testScheduler.schedule(() => expect(calls).toEqual([{ inputs: ['a'], model: MODEL }]), 0);
    });
  });

  it('under load packs the inputs that arrive in the window into one call, and splits the vectors back', () => {
    let calls!: Call[];
    let embed!: ReturnType<typeof batchEmbeddings>;
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const alone = cold('30ms (x|)');
      const packed = cold('30ms (x|)');
      const fake = fakeClient([alone, packed]);
      calls = fake.calls;
      embed = batchEmbeddings(fake.client, { threshold: 1, stepMs: 10 });

      expectObservable(embed('a', MODEL)).toBe('30ms (A|)', v); // load 0: alone
      expectObservable(at(5, embed('b', MODEL))).toBe('45ms (B|)', v); // load 1: window 10 ms from 5
      expectObservable(at(8, embed('c', MODEL))).toBe('45ms (C|)', v);
      expectSubscriptions(alone.subscriptions).toBe('^ 29ms !');
      expectSubscriptions(packed.subscriptions).toBe('15ms ^ 29ms !');
    });
    expect(calls.map((call) => call.inputs)).toEqual([['a'], ['b', 'c']]);
    expect(embed.stats()).toEqual({ batches: 1, batchedItems: 2, sentAlone: 1, fallbacks: 0 });
  });

  it('grows the window with the load up to maxWaitMs, and sends a full batch at once', () => {
    const sentAt = (config: Parameters<typeof batchEmbeddings>[1]) => {
      const times: number[] = [];
      testScheduler = createTestScheduler();
      testScheduler.run(({ cold, expectObservable }) => {
        const { client } = fakeClient([cold('20ms (x|)')]);
        const spy: EmbeddingsClient = (inputs, model) => defer(() => (times.push(testScheduler.now()), client(inputs, model)));
        const embed = batchEmbeddings(spy, { threshold: 0, stepMs: 10, ...config });
        expectObservable(embed('a', MODEL));
        expectObservable(at(3, embed('b', MODEL)));
      });
      return times;
    };
    expect(sentAt({})).toEqual([10]); // load 0, threshold 0: stepMs × 1
    expect(sentAt({ load: () => 2 })).toEqual([30]); // stepMs × 3
    expect(sentAt({ load: () => 2, maxWaitMs: 25 })).toEqual([25]);
    expect(sentAt({ load: () => 2, maxBatchSize: 2 })).toEqual([3]); // full when b arrives
  });

  it('shrinks the window when the load falls', () => {
    const sentAt: number[] = [];
    let calls!: Call[];
    testScheduler.run(({ cold, expectObservable }) => {
      const fake = fakeClient([cold('10ms (x|)'), cold('30ms (x|)'), cold('10ms (x|)')]);
      calls = fake.calls;
      const spy: EmbeddingsClient = (inputs, model) => defer(() => (sentAt.push(testScheduler.now()), fake.client(inputs, model)));
      const embed = batchEmbeddings(spy, { threshold: 1, stepMs: 20, maxWaitMs: 100, maxBatchSize: 2 });

      expectObservable(embed('a', MODEL)); // load 0: alone at 0, for 10 ms
      expectObservable(embed('b', MODEL)); // load 1: b and c fill a batch, sent at 0, for 30 ms
      expectObservable(embed('c', MODEL));
      // d arrives at load 2: window 40 ms, due at 41. At 10 a's call ends, the load is 1 and the window 20 ms: due at 21.
      expectObservable(at(1, embed('d', MODEL)));
    });
    expect(sentAt).toEqual([0, 0, 21]);
    expect(calls.map((call) => call.inputs)).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('removes a caller that unsubscribes before its batch is sent; a batch left with one input goes alone', () => {
    const calls: Call[][] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const held = cold('100ms (x|)');
      const alone = cold('30ms (x|)');
      const fake = fakeClient([held, alone]);
      calls.push(fake.calls);
      const embed = batchEmbeddings(fake.client, { threshold: 1, stepMs: 10 });

      expectObservable(embed('a', MODEL)).toBe('100ms (A|)', v); // holds the load at 1
      expectObservable(at(1, embed('b', MODEL)), '^ 5ms !').toBe('');
      expectObservable(at(2, embed('c', MODEL))).toBe('41ms (C|)', v); // sent at 11, alone: b left
      expectSubscriptions(alone.subscriptions).toBe('11ms ^ 29ms !');
    });
    expect(calls[0]!.map((call) => call.inputs)).toEqual([['a'], ['c']]);
  });

  it('aborts a sent call only when its last caller leaves', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const packed = cold('50ms (x|)');
      const { client } = fakeClient([packed]);
      const embed = batchEmbeddings(client, { threshold: 0, stepMs: 10 });

      expectObservable(embed('a', MODEL), '^ 20ms !').toBe('');
      expectObservable(embed('b', MODEL), '^ 30ms !').toBe('');
      expectSubscriptions(packed.subscriptions).toBe('10ms ^ 20ms !');
    });
  });

  it("sends a packed call's error to each of its callers", () => {
    const limited = new RxllmError('rate-limited', '429 slow down', { status: 429, retryAfterMs: 1000 });
    testScheduler.run(({ cold, expectObservable }) => {
      const { client, calls } = fakeClient([cold('20ms #', undefined, limited)]);
      const embed = batchEmbeddings(client, { threshold: 0, stepMs: 10 });
      expectObservable(embed('a', MODEL)).toBe('30ms #', undefined, limited);
      expectObservable(embed('b', MODEL)).toBe('30ms #', undefined, limited);
      testScheduler.schedule(() => expect(calls).toHaveLength(1), 50);
    });
  });

  it('after a 400 for a packed call, sends each input alone: only the offending caller fails', () => {
    const tooLong = new RxllmError('bad-request', "400 This model's maximum context length is 8192 tokens", { status: 400 });
    const answer = (inputs: readonly string[]) => {
      if (inputs.includes('bad')) throw tooLong;
      return inputs.map(vec);
    };
    let stats!: ReturnType<ReturnType<typeof batchEmbeddings>['stats']>;
    let calls!: Call[];
    testScheduler.run(({ cold, expectObservable }) => {
      const fake = fakeClient([cold('20ms (x|)'), cold('20ms (x|)'), cold('20ms (x|)')], answer);
      calls = fake.calls;
      const embed = batchEmbeddings(fake.client, { threshold: 0, stepMs: 10 });
      expectObservable(embed('good', MODEL)).toBe('50ms (G|)', v);
      expectObservable(embed('bad', MODEL)).toBe('50ms #', undefined, tooLong);
      testScheduler.schedule(() => (stats = embed.stats()), 60);
    });
    expect(calls.map((call) => call.inputs)).toEqual([['good', 'bad'], ['good'], ['bad']]);
    expect(stats).toEqual({ batches: 1, batchedItems: 0, sentAlone: 2, fallbacks: 2 });
  });

  it('sends each input alone when a client answers a packed call with the wrong number of vectors', () => {
    let calls!: Call[];
    testScheduler.run(({ cold, expectObservable }) => {
      // A server that embeds only the first input of an array, as some single-input servers do.
      const fake = fakeClient([cold('20ms (x|)'), cold('20ms (x|)'), cold('20ms (x|)')], (inputs) => [vec(inputs[0]!)]);
      calls = fake.calls;
      const embed = batchEmbeddings(fake.client, { threshold: 0, stepMs: 10 });
      expectObservable(embed('a', MODEL)).toBe('50ms (A|)', v);
      expectObservable(embed('b', MODEL)).toBe('50ms (B|)', v);
    });
    expect(calls.map((call) => call.inputs)).toEqual([['a', 'b'], ['a'], ['b']]);
  });

  it('never packs different models together', () => {
    let calls!: Call[];
    testScheduler.run(({ cold, expectObservable }) => {
      const fake = fakeClient([cold('20ms (x|)'), cold('20ms (x|)')]);
      calls = fake.calls;
      const embed = batchEmbeddings(fake.client, { threshold: 0, stepMs: 10 });
      for (const [input, model] of [['a', 'small'], ['b', 'large'], ['c', 'small'], ['d', 'large']] as const) expectObservable(embed(input, model));
    });
    expect(calls).toEqual([
      { inputs: ['a', 'c'], model: 'small' },
      { inputs: ['b', 'd'], model: 'large' },
    ]);
  });

  it('fails a caller with a non-string input or no model at subscribe, alone, sending nothing for it', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const { client, calls } = fakeClient([cold('20ms (x|)')]);
      const embed = batchEmbeddings(client, { threshold: 0, stepMs: 10 });
      expectObservable(embed(42 as never, MODEL)).toBe('#', undefined, new RxllmError('invalid-request', 'batchEmbeddings(): the input must be a string, got number.', { path: 'input' }));
      expectObservable(embed('a', '')).toBe(
        '#',
        undefined,
        new RxllmError('invalid-request', 'batchEmbeddings(): the model must be a model name, such as "text-embedding-3-small".', { path: 'model' }),
      );
      expectObservable(embed('a', MODEL)).toBe('30ms (A|)', v);
      testScheduler.schedule(() => expect(calls).toEqual([{ inputs: ['a'], model: MODEL }]), 40);
    });
  });

  it.each([
    [{ threshold: -1 }, 'threshold'],
    [{ maxBatchSize: 1 }, 'maxBatchSize'],
    [{ maxBatchSize: 4096 }, 'maxBatchSize'],
    [{ stepMs: 0 }, 'stepMs'],
    [{ scheduler: {} }, 'scheduler'],
    [{ window: 3 }, undefined], // an unknown option: no field to point at
  ])('rejects bad options %j with invalid-config', (config, path) => {
    let error: unknown;
    try {
      batchEmbeddings(() => undefined as never, config as never);
    } catch (thrown) {
      error = thrown;
    }
    expect(isRxllmError(error) && error.code).toBe('invalid-config');
    expect((error as RxllmError).path).toBe(path);
  });

  it('rejects a client that is not a function with invalid-config', () => {
    expect(() => batchEmbeddings({} as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });
});

describe('batchEmbeddings on the simulator server', () => {
  let server: SimulatorServer;
  beforeAll(async () => {
    server = await startSimulatorServer({ seed: 5 });
  });
  afterAll(() => server.close());

  it('answers 20 callers with 4 upstream calls, each vector equal to the one requested alone', async () => {
    const client = embeddingsClient({ baseURL: server.baseURL, headers: { 'x-rxllm-sim': 'ttft=20,tail_p=0' } });
    const embed = batchEmbeddings(client, { threshold: 1, stepMs: 10, maxBatchSize: 8 });
    const texts = Array.from({ length: 20 }, (_, i) => `document ${i}: ${i % 2 ? 'rxjs operators' : 'latency budgets'}`);

    server.resetStats();
    const batched = await lastValueFrom(forkJoin(texts.map((text) => embed(text, MODEL))));
    const upstream = server.stats();

    // The first caller finds no load and goes alone; the other 19 fill batches of 8, 8 and 3.
    expect(upstream).toMatchObject({ requests: 4, completed: 4, failed: 0, aborts: 0 });
    expect(embed.stats()).toEqual({ batches: 3, batchedItems: 19, sentAlone: 1, fallbacks: 0 });
    const alone = await lastValueFrom(forkJoin(texts.map((text) => client([text], MODEL).pipe(map(([vector]) => vector)))));
    // Per caller, whether its vector is exactly the one its text gets alone (a compact failure, not a 30,000-number diff).
    expect(batched.map((vector, i) => vector.length === alone[i]!.length && vector.every((x, k) => x === alone[i]![k]))).toEqual(texts.map(() => true));
    expect(new Set(batched.map((vector) => vector[0])).size).toBe(20);
    expect(batched[0]).toHaveLength(1536);
  });
});
