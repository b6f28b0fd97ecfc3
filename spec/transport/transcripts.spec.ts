/*
 * Every wire transcript through both transports (sseTransport over a custom fetch, and
 * openaiTransport over the real openai SDK with that fetch), at every byte boundary and at
 * seeded random splits: the events and errors must be the ones the transcript means, and the
 * same from both transports.
 */
import OpenAI from 'openai';
import { isDeepStrictEqual } from 'node:util';
import type { Observable } from 'rxjs';
import { isRxllmError, type RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import type { Transport } from '../../src/core/transport';
import { openaiTransport } from '../../src/openai/openaiTransport';
import { sseTransport } from '../../src/transport/sse';
import { transcripts, type Transcript } from '../fixtures/transcripts';
import { byteByByte, chunkedResponse, randomCuts, seededRandom, splitAt } from '../helpers/chunkedFetch';

const baseURL = 'http://127.0.0.1:9/v1'; // never reached: the fetch below answers every request

interface Outcome {
  events: LlmEvent[];
  error?: unknown;
}

function collect(events$: Observable<LlmEvent>): Promise<Outcome> {
  return new Promise((resolve) => {
    const events: LlmEvent[] = [];
    events$.subscribe({
      next: (event) => events.push(event),
      error: (error: unknown) => resolve({ events, error }),
      complete: () => resolve({ events }),
    });
  });
}

/** A transport of the given kind whose every request is answered with the transcript cut at `cuts`. */
function harness(kind: 'sse' | 'openai', transcript: Transcript) {
  let chunks: Uint8Array[] = [transcript.body];
  const fetch = async (): Promise<Response> =>
    chunkedResponse(chunks, { headers: { 'content-type': transcript.contentType, ...transcript.headers } });
  const transport: Transport =
    kind === 'sse' ? sseTransport({ baseURL, fetch }) : openaiTransport(new OpenAI({ baseURL, apiKey: 'sk-test', fetch }));
  const request = {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Hi' }],
    ...transcript.request,
  } as LlmRequest;
  return (split: Uint8Array[]): Promise<Outcome> => {
    chunks = split;
    return collect(transport(request));
  };
}

/** The outcome in the shape of the transcript's expectation, so one deep comparison checks it all. */
function summarize(outcome: Outcome, transcript: Transcript): unknown {
  const { error } = outcome;
  if (error === undefined) return { events: outcome.events };
  if (!isRxllmError(error)) return { events: outcome.events, error };
  const phrase = transcript.error?.messageContains ?? '';
  return {
    events: outcome.events,
    error: {
      code: error.code,
      message: error.message.includes(phrase) ? phrase : error.message,
      status: error.status,
      requestId: error.requestId,
      tokensEmitted: error.tokensEmitted,
      partialText: error.partialText,
      providerCode: error.providerCode,
      ...(transcript.error?.raw === undefined ? {} : { raw: error.raw }),
    },
  };
}

function expected(transcript: Transcript): unknown {
  const wanted = transcript.error;
  if (!wanted) return { events: transcript.events };
  return {
    events: transcript.events,
    error: {
      code: wanted.code,
      message: wanted.messageContains,
      status: 200,
      requestId: transcript.headers?.['x-request-id'],
      tokensEmitted: wanted.tokensEmitted,
      partialText: wanted.partialText,
      providerCode: wanted.providerCode,
      ...(wanted.raw === undefined ? {} : { raw: wanted.raw }),
    },
  };
}

/** Runs every split through the transport; on the first mismatch, fails with the split that caused it. */
async function expectEverySplit(kind: 'sse' | 'openai', transcript: Transcript, splits: Iterable<number[]>): Promise<number> {
  const run = harness(kind, transcript);
  const want = expected(transcript);
  let count = 0;
  for (const cuts of splits) {
    const got = summarize(await run(splitAt(transcript.body, cuts)), transcript);
    if (!isDeepStrictEqual(got, want)) {
      expect({ transport: kind, cuts: cuts.length > 20 ? `${cuts.length} cuts` : cuts, ...(got as object) }).toEqual({
        transport: kind,
        cuts: cuts.length > 20 ? `${cuts.length} cuts` : cuts,
        ...(want as object),
      });
    }
    count++;
  }
  return count;
}

function* everyBoundary(length: number): Generator<number[]> {
  for (let offset = 1; offset < length; offset++) yield [offset];
}

/** For bodies too big to try every offset: the edges, the middle, fixed-size reads. */
function* sampledBoundaries(length: number): Generator<number[]> {
  for (const offset of [1, 2, 3, 5, 8, 13, Math.floor(length / 2), length - 3, length - 2, length - 1]) yield [offset];
  for (const size of [16 * 1024, 64 * 1024]) {
    const cuts: number[] = [];
    for (let offset = size; offset < length; offset += size) cuts.push(offset);
    yield cuts;
  }
}

function* randomSplits(length: number, seed: number, count: number, maxCuts: number): Generator<number[]> {
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) yield randomCuts(length, random, maxCuts);
}

describe.each(transcripts.map((transcript, index) => [transcript.name, transcript, index] as const))('%s', (_name, transcript, index) => {
  it('gives the expected outcome, the same from both transports, in one read', async () => {
    const sse = await harness('sse', transcript)([transcript.body]);
    const viaSdk = await harness('openai', transcript)([transcript.body]);

    expect(summarize(sse, transcript)).toEqual(expected(transcript));
    expect(summarize(viaSdk, transcript)).toEqual(expected(transcript));
    expect(viaSdk.events).toEqual(sse.events);
    if (transcript.error) expect((viaSdk.error as RxllmError).toJSON()).toEqual((sse.error as RxllmError).toJSON());
  });

  it.each(['sse', 'openai'] as const)('%s: every read boundary', async (kind) => {
    const { length } = transcript.body;
    if (transcript.large) {
      await expectEverySplit(kind, transcript, sampledBoundaries(length));
    } else {
      // One byte per read puts a read boundary at every offset at once; then each offset alone.
      await expectEverySplit(kind, transcript, [Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1)]);
      await expectEverySplit(kind, transcript, everyBoundary(length));
    }
  });

  it.each(['sse', 'openai'] as const)('%s: seeded random splits', async (kind) => {
    const { length } = transcript.body;
    const splits = transcript.large ? randomSplits(length, 7919 * (index + 1), 3, 200) : randomSplits(length, 7919 * (index + 1), 20, 30);
    expect(await expectEverySplit(kind, transcript, splits)).toBeGreaterThan(0);
  });
});

it.each(['sse', 'openai'] as const)('%s: the tiny-events transcript survives one byte per read', async (kind) => {
  const tiny = transcripts.find((transcript) => transcript.name.endsWith('tiny events'))!;
  const run = harness(kind, tiny);
  expect(summarize(await run(byteByByte(tiny.body)), tiny)).toEqual(expected(tiny));
});
