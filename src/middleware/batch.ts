import { asyncScheduler, defer, map, type Observable, reduce, type SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import { stableStringify } from '../internal/stableStringify.js';
import type { Middleware, Transport } from '../core/transport.js';
import { AdaptiveBatcher, type BatcherCounts, type BatchExecutor } from '../load/adaptiveBatcher.js';
import { laneField, withoutLane } from '../load/lane.js';
import { schedulerSchema } from '../core/validateConfig.js';

/** Options for {@link batch}. Validated once, when `batch()` is called. */
export interface BatchConfig {
  /** Lanes whose requests may be packed. @defaultValue `['background']` */
  lanes?: readonly string[];
  /** Picks a request's lane. @defaultValue the request's `rxllm_lane` field (see {@link inLane}) */
  laneOf?: (request: LlmRequest) => string | undefined;
  /** Load (requests in flight through this middleware, plus `load()`) at which packing starts. @defaultValue 4 */
  threshold?: number;
  /** The window grows by this many ms per unit of load from `threshold` up. @defaultValue 25 */
  stepMs?: number;
  /** The longest a request waits for its batch to fill. @defaultValue 200 */
  maxWaitMs?: number;
  /** At most this many prompts in one packed request; a full batch goes out at once. @defaultValue 8 */
  maxBatchSize?: number;
  /**
   * Extra load to add, read when the window is evaluated: for example the queue
   * of a {@link limit} below, `() => limiter.stats().queued`.
   */
  load?: () => number;
  /**
   * Keep the `rxllm_lane` field on the requests sent on (a packed request gets
   * its items' lane), for a {@link limit} below that reads it. Off, the field
   * is stripped, as a provider would reject it.
   * @defaultValue false
   */
  forwardLane?: boolean;
  /** The clock of the window. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Counts of a {@link batch} middleware, over every transport it wraps. */
export interface BatchStats extends BatcherCounts {
  /** Requests through it that could not be packed (another lane, tools, a JSON format, ...), sent unchanged. */
  passedThrough: number;
}

/** The {@link batch} middleware, with its counts. */
export interface BatchMiddleware extends Middleware {
  stats(): BatchStats;
}

/**
 * Middleware: adaptive batching of small, independent, low-priority chat
 * prompts (classifications, tags, short extractions). Under low load each
 * request goes out at once, unchanged; once the requests in flight through it
 * reach `threshold`, packable requests of the batched lanes wait in a window
 * that grows with load (`stepMs` per unit, up to `maxWaitMs`, or until
 * `maxBatchSize` prompts) and shrinks as load falls, then go out as ONE request
 * that asks for a JSON array of answers, validated with zod and split back.
 *
 * ```text
 * threshold 2, stepMs 25; x: an interactive request keeping load at 2
 * x:                 ^---------------!
 * p (background):    -p------(tf|)          packed with q, sent at 26 (window 25 from 1)
 * q (background):    ---q----(tf|)
 * upstream:          x, then at 26 one packed request for [p, q]
 * ```
 *
 * - **Packable**: lane in `lanes`; last message a `user` message with string
 *   content; no `tools`, `response_format` or `n > 1`. Requests pack together
 *   only if everything but the last message (and `max_tokens`) is equal: same
 *   model, system prompt, temperature. Everything else passes through.
 * - **Emits** for a packed request its answer as one `text` event and a
 *   `finish` (`stop`), when the packed answer completes: no streaming and no
 *   `usage` (a shared call's usage belongs to no single caller). A batch of one
 *   is sent as the original request, streamed as usual.
 * - **Falls back**: a packed answer that is not valid JSON of the right shape,
 *   the wrong number of answers, or cut short (`finish` other than `stop`) is
 *   discarded and each caller's own request is sent alone. An upstream error of
 *   the packed request reaches each of its callers (it is their error too; a
 *   retry above re-sends each alone).
 * - **Unsubscribe**: a caller leaving before its batch is sent is removed from
 *   it; after, the packed request is aborted when its last caller leaves.
 * - Cold per request; the window and load count are shared by every request
 *   through one wrapped transport.
 *
 * Put it above {@link limit} (`withMiddleware(t, batch({ forwardLane: true, load }), limit(...))`)
 * so a packed request takes one slot, and give interactive work a `reserve`
 * there: a packed request holds its slot longer than a single one, and without
 * a reserve an interactive request arriving when background work holds every
 * slot waits for one of them to end.
 *
 * @throws {@link RxllmError} `invalid-config` on bad options.
 *
 * @example
 * ```ts
 * const llm = withMiddleware(sseTransport({ baseURL }), batch({ threshold: 4, maxBatchSize: 8 }));
 * const label$ = llm(inLane('background', classifyRequest(review))).pipe(text());
 * ```
 *
 * @see {@link batchEmbeddings} for embeddings, {@link limit} for the slots below.
 */
export function batch(config: BatchConfig = {}): BatchMiddleware {
  const options = parseConfig(config);
  const counts: BatchStats = { batches: 0, batchedItems: 0, sentAlone: 0, fallbacks: 0, passedThrough: 0 };

  const middleware: Middleware = (next: Transport): Transport => {
    const forward = (request: LlmRequest) => next(options.forwardLane ? request : withoutLane(request));
    const executor: BatchExecutor<LlmRequest, LlmEvent> = {
      one: forward,
      many: (items) => packedAnswers(forward, items),
    };
    const batcher = new AdaptiveBatcher(executor, options, options.scheduler, counts, options.load);
    return (request) =>
      defer(() => {
        const lane = options.laneOf(request);
        const key = lane !== undefined && options.lanes.includes(lane) ? packKey(request) : undefined;
        if (key === undefined) {
          counts.passedThrough++;
          return batcher.track(forward(request));
        }
        return batcher.submit(key, request);
      });
  };
  return Object.assign(middleware, { stats: (): BatchStats => ({ ...counts }) });
}

/** Requests with equal keys may share one packed request; undefined: not packable. */
function packKey(request: LlmRequest): string | undefined {
  const last = request.messages.at(-1);
  if (last?.role !== 'user' || typeof last.content !== 'string') return undefined;
  if (request.tools !== undefined || request.response_format !== undefined || (request.n ?? 1) > 1) return undefined;
  const { messages, max_tokens: _max, max_completion_tokens: _maxCompletion, stream: _stream, ...rest } = request;
  return stableStringify({ ...rest, messages: messages.slice(0, -1) });
}

function packedAnswers(forward: Transport, items: readonly LlmRequest[]): Observable<ReadonlyArray<LlmEvent[] | undefined>> {
  const first = items[0]!;
  const prompts = items.map((item) => item.messages.at(-1)!.content as string);
  const answers = z.strictObject({ answers: z.array(z.string()).length(items.length) });
  const sum = (field: 'max_tokens' | 'max_completion_tokens') =>
    items.every((item) => typeof item[field] === 'number') ? items.reduce((total, item) => total + (item[field] as number), 0) : undefined;
  const { max_tokens: _max, max_completion_tokens: _maxCompletion, ...base } = first;
  const packed: LlmRequest = {
    ...base,
    messages: [...first.messages.slice(0, -1), { role: 'user', content: packedPrompt(prompts) }],
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'batch_answers',
        strict: true,
        schema: {
          type: 'object',
          properties: { answers: { type: 'array', items: { type: 'string' }, minItems: items.length, maxItems: items.length } },
          required: ['answers'],
          additionalProperties: false,
        },
      },
    },
  };
  const maxTokens = sum('max_tokens');
  const maxCompletionTokens = sum('max_completion_tokens');
  if (maxTokens !== undefined) packed.max_tokens = maxTokens;
  if (maxCompletionTokens !== undefined) packed.max_completion_tokens = maxCompletionTokens;

  return forward(packed).pipe(
    reduce(
      (answer, event) => {
        if (event.choice !== 0) return answer;
        if (event.type === 'text') answer.text += event.text;
        if (event.type === 'finish') answer.finish = event.reason;
        return answer;
      },
      { text: '', finish: undefined as string | undefined },
    ),
    map(({ text, finish }) => {
      const parsed = finish === 'stop' ? answers.safeParse(parseJson(text)) : undefined;
      if (!parsed?.success) return items.map(() => undefined);
      return parsed.data.answers.map((answer): LlmEvent[] => [
        { type: 'text', choice: 0, text: answer },
        { type: 'finish', choice: 0, reason: 'stop' },
      ]);
    }),
  );
}

function packedPrompt(prompts: readonly string[]): string {
  const numbered = prompts.map((prompt, index) => `<prompt ${index + 1}>\n${prompt}\n</prompt ${index + 1}>`).join('\n\n');
  return (
    `Answer each of the ${prompts.length} prompts below on its own, as if it were the only one. ` +
    `Reply with JSON only: {"answers": [...]} with exactly ${prompts.length} strings, the answer to prompt i at index i - 1.\n\n${numbered}`
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const fn = <T>() => z.custom<T>((value) => typeof value === 'function', 'expected a function');

const configSchema = z
  .strictObject({
    lanes: z.array(z.string().min(1)).min(1).default(['background']),
    laneOf: fn<(request: LlmRequest) => string | undefined>().default(() => laneField),
    threshold: z.number().int().min(0).default(4),
    stepMs: z.number().positive().default(25),
    maxWaitMs: z.number().min(0).default(200),
    maxBatchSize: z.number().int().min(2).max(100).default(8),
    load: fn<() => number>().optional(),
    forwardLane: z.boolean().default(false),
    scheduler: schedulerSchema.default(() => asyncScheduler),
  });

function parseConfig(config: BatchConfig) {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RxllmError('invalid-config', `batch(): \`${issue.path.join('.') || 'config'}\`: ${issue.message}. Example: batch({ threshold: 4, maxWaitMs: 200, maxBatchSize: 8 }).`, {
      cause: parsed.error,
      ...(issue.path.length > 0 ? { path: issue.path.join('.') } : {}),
    });
  }
  return parsed.data;
}
