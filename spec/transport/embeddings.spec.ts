import { firstValueFrom, lastValueFrom, type Observable } from 'rxjs';
import { isRxllmError, type RxllmError } from '../../src/core/errors';
import { type SimulatorServer, startSimulatorServer } from '../../src/node/simulatorServer';
import { embeddingsClient } from '../../src/transport/embeddings';
import { fakeFetch } from '../helpers/chunkedFetch';
import { type LocalServer, startLocalServer } from '../helpers/localServer';
import { httpErrorCases } from '../helpers/transportContract';

const MODEL = 'text-embedding-3-small';
const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const answer = (vectors: number[][]) => ({ object: 'list', data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })), model: MODEL });

function failure(vectors$: Observable<number[][]>): Promise<RxllmError> {
  return new Promise((resolve, reject) =>
    vectors$.subscribe({
      next: (vectors) => reject(new Error(`emitted ${vectors.length} vectors instead of failing`)),
      error: (error: unknown) => (isRxllmError(error) ? resolve(error) : reject(error)),
      complete: () => reject(new Error('completed instead of failing')),
    }),
  );
}

describe('embeddingsClient', () => {
  it('POSTs the model, the inputs, float encoding and the dimensions to <baseURL>/embeddings, with the key', async () => {
    const fetch = fakeFetch(() => json(answer([[1, 2], [3, 4]])));
    const embed = embeddingsClient({ baseURL: 'https://example.test/v1/', apiKey: 'sk-abc', headers: { 'api-key': 'azure' }, dimensions: 2, fetch });

    const vectors = await lastValueFrom(embed(['first', 'second'], MODEL));

    expect(vectors).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const [call] = fetch.calls;
    expect(call!.url).toBe('https://example.test/v1/embeddings');
    expect(call!.body).toEqual({ model: MODEL, input: ['first', 'second'], encoding_format: 'float', dimensions: 2 });
    expect(call!.headers.get('authorization')).toBe('Bearer sk-abc');
    expect(call!.headers.get('api-key')).toBe('azure');
    expect(call!.headers.get('content-type')).toBe('application/json');
  });

  it('is cold: nothing is sent before subscribe, and each subscription sends its own request', async () => {
    const fetch = fakeFetch(() => json(answer([[1]])));
    const vectors$ = embeddingsClient({ fetch })(['x'], MODEL);
    expect(fetch.calls).toHaveLength(0);
    await lastValueFrom(vectors$);
    await lastValueFrom(vectors$);
    expect(fetch.calls).toHaveLength(2);
  });

  it('orders the vectors by their index, whatever order the server lists them in', async () => {
    const fetch = fakeFetch(() =>
      json({
        data: [
          { index: 2, embedding: [2] },
          { index: 0, embedding: [0] },
          { index: 1, embedding: [1] },
        ],
      }),
    );
    expect(await lastValueFrom(embeddingsClient({ fetch })(['a', 'b', 'c'], MODEL))).toEqual([[0], [1], [2]]);
  });

  it('emits [] for no inputs without sending anything', async () => {
    const fetch = fakeFetch(() => json(answer([])));
    expect(await lastValueFrom(embeddingsClient({ fetch })([], MODEL))).toEqual([]);
    expect(fetch.calls).toHaveLength(0);
  });

  it.each([
    ['not JSON', () => new Response('<html>oops</html>', { status: 200 }), 'is not JSON'],
    ['no data', () => json({ object: 'list' }), 'has no data array'],
    ['too few vectors', () => json(answer([[1]])), 'has 1 vectors for 2 inputs'],
    ['a repeated index', () => json({ data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [2] }] }), 'repeated or out-of-range index at data[1]'],
    ['a vector that is not numbers', () => json({ data: [{ index: 0, embedding: 'AAAA' }, { index: 1, embedding: [2] }] }), 'no numeric embedding at data[0]'],
  ])('fails with malformed-event for a body with %s', async (_name, respond, words) => {
    const error = await failure(embeddingsClient({ fetch: fakeFetch(respond) })(['a', 'b'], MODEL));
    expect(error.code).toBe('malformed-event');
    expect(error.message).toContain(words);
    expect(error.status).toBe(200);
  });

  it('fails with stream-error for an error object in a 200 body', async () => {
    const error = await failure(embeddingsClient({ fetch: fakeFetch(() => json({ error: { message: 'backend exploded' } })) })(['a'], MODEL));
    expect(error.code).toBe('stream-error');
    expect(error.message).toContain('backend exploded');
  });

  it('fails with invalid-request, sending nothing, for an input that is not a string or an empty model', async () => {
    const fetch = fakeFetch(() => json(answer([[1]])));
    const embed = embeddingsClient({ fetch });
    expect(await failure(embed(['ok', 7 as never], MODEL))).toMatchObject({ code: 'invalid-request', path: 'input.1' });
    expect(await failure(embed(['ok'], ''))).toMatchObject({ code: 'invalid-request', path: 'model' });
    expect(fetch.calls).toHaveLength(0);
  });

  it('turns a fetch that throws into connection-lost', async () => {
    const error = await failure(
      embeddingsClient({
        fetch: () => {
          throw new TypeError('fetch is broken');
        },
      })(['a'], MODEL),
    );
    expect(error.code).toBe('connection-lost');
    expect(error.message).toContain('fetch is broken');
  });

  it('rejects a bad baseURL, fetch or dimensions with invalid-config', () => {
    expect(() => embeddingsClient({ baseURL: 'ftp://example.test' })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => embeddingsClient({ fetch: 42 as never })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => embeddingsClient({ dimensions: 0 })).toThrow(expect.objectContaining({ code: 'invalid-config', path: 'dimensions' }));
  });
});

describe('embeddingsClient over a real socket', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer();
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
  });

  it.each(httpErrorCases().map((c) => [c.name, c] as const))('HTTP %s → a typed error with the provider message', async (_name, c) => {
    server.handle((_request, response) => {
      response.writeHead(c.status, c.headers);
      response.end(c.body);
    });

    const error = await failure(embeddingsClient({ baseURL: server.baseURL })(['a'], MODEL));

    expect(error.code).toBe(c.code);
    expect(error.status).toBe(c.status);
    expect(error.message).toContain(c.providerMessage);
    expect(error.providerCode).toBe(c.providerCode);
    if (Array.isArray(c.retryAfterMs)) {
      expect(error.retryAfterMs).toBeGreaterThanOrEqual(c.retryAfterMs[0]);
      expect(error.retryAfterMs).toBeLessThanOrEqual(c.retryAfterMs[1]);
    } else {
      expect(error.retryAfterMs).toBe(c.retryAfterMs);
    }
    expect(server.requests[0]!.url).toBe('/v1/embeddings');
  });

  it('unsubscribing before the answer aborts the request: the server sees the client leave', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    server.handle(() => arrived()); // ...and never answers.

    const subscription = embeddingsClient({ baseURL: server.baseURL })(['a'], MODEL).subscribe({ error: () => undefined });
    await requestArrived;
    subscription.unsubscribe();

    expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });
  });

  it('a server that is not listening → connection-refused', async () => {
    const gone = await startLocalServer();
    await gone.close();
    expect(await failure(embeddingsClient({ baseURL: gone.baseURL })(['a'], MODEL))).toMatchObject({ code: 'connection-refused', tokensEmitted: false });
  });
});

describe('embeddingsClient on the simulator server', () => {
  let simulator: SimulatorServer;
  beforeAll(async () => {
    simulator = await startSimulatorServer({ seed: 9 });
  });
  afterAll(() => simulator.close());

  it('embeds an array in one request: the same vectors as one request per text', async () => {
    const embed = embeddingsClient({ baseURL: simulator.baseURL, headers: { 'x-rxllm-sim': 'ttft=5,tail_p=0' } });
    simulator.resetStats();
    const together = await firstValueFrom(embed(['red apples', 'green pears', 'red apples'], MODEL));
    expect(simulator.stats().requests).toBe(1);
    const [apples] = await firstValueFrom(embed(['red apples'], MODEL));
    const [pears] = await firstValueFrom(embed(['green pears'], MODEL));

    expect(together.map((vector) => vector.length)).toEqual([1536, 1536, 1536]);
    expect(together[0]).toEqual(apples);
    expect(together[1]).toEqual(pears);
    expect(together[2]).toEqual(apples);
    expect(together[0]).not.toEqual(together[1]);
  });

  it('sends dimensions, and maps the simulator’s 400 for too many to bad-request', async () => {
    const short = await firstValueFrom(embeddingsClient({ baseURL: simulator.baseURL, dimensions: 8 })(['x'], MODEL));
    expect(short[0]).toHaveLength(8);
    const error = await failure(embeddingsClient({ baseURL: simulator.baseURL, dimensions: 5000 })(['x'], MODEL));
    expect(error).toMatchObject({ code: 'bad-request', status: 400 });
    expect(error.message).toContain('dimensions');
  });
});
