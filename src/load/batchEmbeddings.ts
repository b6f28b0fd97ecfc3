import { asyncScheduler, catchError, defer, map, type Observable, of, type SchedulerLike, throwError } from 'rxjs';
import * as s from '../internal/check.js';
import { isRxllmError, RxllmError } from '../core/errors.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import type { EmbeddingsClient } from '../transport/embeddings.js';
import { AdaptiveBatcher, type BatcherCounts, type BatchExecutor } from './adaptiveBatcher.js';

/** Options for {@link batchEmbeddings}. Validated once, when `batchEmbeddings()` is called. */
export interface BatchEmbeddingsConfig {
  /**
   * Load (embeddings calls in flight through this batcher, plus `load()`) at
   * which batching starts; below it an input goes out at once, alone.
   * 0 batches always (every input waits at least `stepMs`).
   * @defaultValue 1
   */
  threshold?: number;
  /** The window grows by this many ms per unit of load from `threshold` up. @defaultValue 10 */
  stepMs?: number;
  /** The longest an input waits for its batch to fill, in ms. @defaultValue 50 */
  maxWaitMs?: number;
  /** At most this many inputs in one request; a full batch goes out at once. OpenAI accepts up to 2048. @defaultValue 64 */
  maxBatchSize?: number;
  /** Extra load to add, read when the window is evaluated (a queue in front of the same endpoint, say). */
  load?: () => number;
  /** The clock of the window. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** What {@link BatchedEmbeddings.stats} reports: upstream calls and how the inputs went, since creation. */
export interface BatchEmbeddingsStats extends BatcherCounts {}

/** The per-caller embeddings function of {@link batchEmbeddings}, with its counts. */
export interface BatchedEmbeddings {
  /** The vector of one input: emits it once, then completes. Cold. */
  (input: string, model: string): Observable<number[]>;
  /** Upstream calls and how the inputs went, since creation. */
  stats(): BatchEmbeddingsStats;
}

interface Item {
  readonly input: string;
  readonly model: string;
}

/**
 * Adaptive batching of embeddings: many callers' inputs packed into one
 * `/v1/embeddings` request, the vectors split back to each caller. Under low
 * load an input goes out at once, alone; once `threshold` calls are in flight,
 * inputs of the same model wait in a window that grows with load (`stepMs` per
 * unit, up to `maxWaitMs`, or until `maxBatchSize` inputs) and shrinks as load
 * falls, then go out as one call.
 *
 * ```text
 * threshold 1, stepMs 10; every call takes 30ms
 * a (at 0):   30ms (A|)       call ['a']:      ^ 29ms !           (load 0: alone, at once)
 * b (at 5):   45ms (B|)       call ['b', 'c']: 15ms ^ 29ms !      (load 1: window 10ms from 5)
 * c (at 8):   45ms (C|)
 * ```
 *
 * - **Emits** each caller's own vector once, then **completes**. Cold per
 *   caller; the window and the load are shared by every caller of one
 *   `batchEmbeddings()`.
 * - **Errors**: each caller sees its own error. An error of a packed call
 *   (`rate-limited`, `server`, `connection-lost`, ...) is every member's error
 *   (a retry above each caller re-sends it); but an answer that may be about one
 *   input (HTTP 400 or 422: too long, empty) or that does not hold one vector per
 *   input sends each input again alone, so only the offending caller fails. An
 *   input that is not a string fails that caller alone, at subscribe.
 * - **Unsubscribe**: a caller leaving before its batch is sent is removed from
 *   it (a batch left with one input goes out alone); after, the request is
 *   aborted when its last caller leaves.
 * - Different models never share a request.
 *
 * @throws {@link RxllmError} `invalid-config` on bad options.
 *
 * @example
 * ```ts
 * import { batchEmbeddings, embeddingsClient } from 'rxllm';
 * const embed = batchEmbeddings(embeddingsClient({ baseURL, apiKey }), { maxBatchSize: 128 });
 * from(documents).pipe(mergeMap((doc) => embed(doc.text, 'text-embedding-3-small').pipe(map((vector) => ({ doc, vector })))));
 * embed.stats(); // { batches, batchedItems, sentAlone, fallbacks }
 * ```
 *
 * @see {@link embeddingsClient} for the client over fetch.
 */
export function batchEmbeddings(client: EmbeddingsClient, config: BatchEmbeddingsConfig = {}): BatchedEmbeddings {
  if (typeof client !== 'function') {
    throw new RxllmError('invalid-config', 'batchEmbeddings(): the first argument must be an EmbeddingsClient, such as embeddingsClient({ baseURL }).');
  }
  const options = validateConfig('batchEmbeddings', configSchema, config);
  const counts: BatcherCounts = { batches: 0, batchedItems: 0, sentAlone: 0, fallbacks: 0 };
  const executor: BatchExecutor<Item, number[]> = {
    one: ({ input, model }) => client([input], model).pipe(map((vectors) => vectors[0]!)),
    many: (items) =>
      client(
        items.map((item) => item.input),
        items[0]!.model,
      ).pipe(
        // A client that breaks its contract (not one vector per input) gets the same treatment as a doubtful answer.
        map((vectors) => (vectors.length === items.length ? vectors.map((vector) => [vector]) : items.map(() => undefined))),
        catchError((error: unknown) => (mayConcernOneInput(error) ? of(items.map(() => undefined)) : throwError(() => error))),
      ),
  };
  const batcher = new AdaptiveBatcher(executor, options, options.scheduler, counts, options.load);

  const embed = (input: string, model: string): Observable<number[]> =>
    defer(() => {
      // Checked per caller, so one bad input never fails a whole batch.
      if (typeof input !== 'string') throw new RxllmError('invalid-request', `batchEmbeddings(): the input must be a string, got ${typeof input}.`, { path: 'input' });
      if (typeof model !== 'string' || model === '') throw new RxllmError('invalid-request', 'batchEmbeddings(): the model must be a model name, such as "text-embedding-3-small".', { path: 'model' });
      return batcher.submit(model, { input, model });
    });
  return Object.assign(embed, { stats: (): BatchEmbeddingsStats => ({ ...counts }) });
}

/** An error that one input of a packed call may have caused: sending each input alone tells whose it is. */
function mayConcernOneInput(error: unknown): boolean {
  return isRxllmError(error) && (error.status === 400 || error.status === 422 || error.code === 'malformed-event');
}

const configSchema = s.strictObject({
  threshold: s.number().int().min(0).default(1),
  stepMs: s.number().positive().default(10),
  maxWaitMs: s.number().min(0).default(50),
  maxBatchSize: s.number().int().min(2).max(2048).default(64),
  load: functionSchema<() => number>('a function returning a number').optional(),
  scheduler: schedulerSchema.default(() => asyncScheduler),
});
