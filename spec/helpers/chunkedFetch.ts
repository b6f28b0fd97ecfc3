/*
 * A fetch that answers with bytes delivered in exactly the reads a test chooses, so a
 * transport's parsing can be tried at every byte boundary without a socket.
 */
import { createRng } from '../../src/simulator/prng';

export interface ChunkedResponseInit {
  status?: number;
  headers?: Record<string, string>;
  /** Fail the body with this error after the last chunk, as a reset connection does. */
  failWith?: unknown;
}

/** A Response whose body yields `chunks` one per read (pull-driven, so never ahead of the reader). */
export function chunkedResponse(chunks: readonly Uint8Array[], init: ChunkedResponseInit = {}): Response {
  let next = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = chunks[next++];
        if (chunk !== undefined) controller.enqueue(chunk);
        else if (init.failWith !== undefined) controller.error(init.failWith);
        else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: init.status ?? 200, headers: init.headers ?? {} });
}

/** The requests a {@link fakeFetch} received. */
export interface FetchCall {
  url: string;
  body: unknown;
  headers: Headers;
}

/** A fetch that answers every request with `respond()` and records what was asked. */
export function fakeFetch(respond: (call: FetchCall) => Response): typeof fetch & { calls: FetchCall[] } {
  const calls: FetchCall[] = [];
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const text = await request.text();
    const call: FetchCall = { url: request.url, body: text ? JSON.parse(text) : undefined, headers: request.headers };
    calls.push(call);
    return respond(call);
  };
  return Object.assign(fetchImpl as typeof fetch, { calls });
}

/** Cuts `bytes` at the given offsets (ascending, inside the array). */
export function splitAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const offset of offsets) {
    chunks.push(bytes.subarray(start, offset));
    start = offset;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** Every byte in its own read. */
export function byteByByte(bytes: Uint8Array): Uint8Array[] {
  return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
}

/** A seeded random source (the simulator's generator): the same seed gives the same splits on every run. */
export function seededRandom(seed: number): () => number {
  const rng = createRng(seed);
  return () => rng.next();
}

/** Between 1 and `maxCuts` distinct random cut offsets inside a body of `length` bytes, ascending. */
export function randomCuts(length: number, random: () => number, maxCuts: number): number[] {
  if (length < 2) return [];
  const count = 1 + Math.floor(random() * maxCuts);
  const cuts = new Set<number>();
  for (let i = 0; i < count; i++) cuts.add(1 + Math.floor(random() * (length - 1)));
  return [...cuts].sort((a, b) => a - b);
}
