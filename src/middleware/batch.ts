import { asyncScheduler, defer, map, type Observable, reduce, type SchedulerLike } from 'rxjs';
import * as s from '../internal/check.js';
import { RxllmError } from '../core/errors.js';
import type { RequestContext, Served } from '../core/context.js';
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import { scopeOf } from '../core/requestKey.js';
import { stableStringify } from '../internal/stableStringify.js';
import type { Middleware, Transport } from '../core/transport.js';
import { AdaptiveBatcher, type BatcherCounts, type BatchExecutor } from '../load/adaptiveBatcher.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { withFields } from '../internal/withFields.js';
import type { Writable } from '../internal/Writable.js';

/** Options for {@link batch}. Validated once, when `batch()` is called. */
export interface BatchConfig {
  /** Lanes whose requests may be packed: a request's lane is its context's `lane` ({@link RequestContext.lane}). @defaultValue `['background']` */
  lanes?: readonly string[];
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
  /** The counts so far, as a fresh snapshot on each call. */
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
 * - **Packable**: the context's lane in `lanes`; last message a `user`
 *   message with string content; no `tools`, `response_format` or `n > 1`.
 *   Requests pack together only if everything but the last message (and
 *   `max_tokens`) is equal (same model, system prompt, temperature) and their
 *   contexts have the same lane, step and `scope` attribute (one tenant's
 *   prompts never share a request with another's). Everything else passes
 *   through, with its context.
 * - **Context of a packed request**: its items' lane, step and the attributes
 *   they all share; the latest of their deadlines (none if one has none: the
 *   call is needed until its last caller's deadline, and an earlier caller's
 *   own deadline is enforced above `batch()`); an `onServed` that tells every
 *   item's `onServed`. A request sent alone goes with its own context.
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
 * Put it above {@link limit} (`withMiddleware(t, batch({ load }), limit(...))`)
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
 * const label$ = llm(classifyRequest(review), { lane: 'background' }).pipe(text());
 * ```
 *
 * @see {@link batchEmbeddings} for embeddings, {@link limit} for the slots below.
 */
export function batch(config: BatchConfig = {}): BatchMiddleware {
  const options = validateConfig('batch', configSchema, config);
  const counts: BatchStats = { batches: 0, batchedItems: 0, sentAlone: 0, fallbacks: 0, passedThrough: 0 };

  const middleware: Middleware = (next: Transport): Transport => {
    const executor: BatchExecutor<Item, LlmEvent> = {
      one: ({ request, context }) => next(request, context),
      many: (items) => packedAnswers(next, items),
    };
    const batcher = new AdaptiveBatcher(executor, options, options.scheduler, counts, options.load);
    return (request, context) =>
      defer(() => {
        const lane = context?.lane;
        const key = lane !== undefined && options.lanes.includes(lane) ? packKey(request, context) : undefined;
        if (key === undefined) {
          counts.passedThrough++;
          return batcher.track(next(request, context));
        }
        return batcher.submit(key, { request, context });
      });
  };
  return Object.assign(middleware, { stats: (): BatchStats => ({ ...counts }) });
}

/** One caller's request, with the context it came with. */
interface Item {
  readonly request: LlmRequest;
  readonly context: RequestContext | undefined;
}

/** Requests with equal keys may share one packed request; undefined: not packable. */
function packKey(request: LlmRequest, context: RequestContext | undefined): string | undefined {
  const last = request.messages.at(-1);
  if (last?.role !== 'user' || typeof last.content !== 'string') return undefined;
  if (request.tools !== undefined || request.response_format !== undefined || (request.n ?? 1) > 1) return undefined;
  const { messages, max_tokens: _max, max_completion_tokens: _maxCompletion, stream: _stream, ...rest } = request;
  // The context parts a packed request can carry for all its items only if they are equal.
  const shared = { lane: context?.lane, step: context?.step, scope: scopeOf(context) };
  return stableStringify({ request: withFields(rest, { messages: messages.slice(0, -1) }), context: shared });
}

/** The context a packed request goes with, made from its items' (which share lane, step and scope: see packKey). */
function packedContext(contexts: readonly (RequestContext | undefined)[]): RequestContext {
  const first = contexts[0];
  const attributes = Object.fromEntries(
    Object.entries(first?.attributes ?? {}).filter(([name, value]) => contexts.every((context) => context?.attributes?.[name] === value)),
  );
  const deadlines = contexts.map((context) => context?.deadline);
  const listeners = contexts.flatMap((context) => (context?.onServed === undefined ? [] : [context.onServed]));
  // Fields set one by one (a literal that starts with a spread gets a hidden class per call: internal/withFields.ts).
  const context: Writable<RequestContext> = {};
  if (first?.lane !== undefined) context.lane = first.lane;
  if (first?.step !== undefined) context.step = first.step;
  if (Object.keys(attributes).length > 0) context.attributes = attributes;
  if (!deadlines.includes(undefined)) context.deadline = Math.max(...(deadlines as number[]));
  if (listeners.length > 0) context.onServed = (served: Served) => listeners.forEach((listener) => listener(served));
  return context;
}

function packedAnswers(next: Transport, items: readonly Item[]): Observable<ReadonlyArray<LlmEvent[] | undefined>> {
  const first = items[0]!.request;
  const prompts = items.map(({ request }) => request.messages.at(-1)!.content as string);
  const answers = s.strictObject({ answers: s.array(s.string()).length(items.length) });
  const sum = (field: 'max_tokens' | 'max_completion_tokens') =>
    items.every(({ request }) => typeof request[field] === 'number') ? items.reduce((total, { request }) => total + (request[field] as number), 0) : undefined;
  const { max_tokens: _max, max_completion_tokens: _maxCompletion, ...base } = first;
  const packed: LlmRequest = withFields(base, {
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
  });
  const maxTokens = sum('max_tokens');
  const maxCompletionTokens = sum('max_completion_tokens');
  if (maxTokens !== undefined) packed.max_tokens = maxTokens;
  if (maxCompletionTokens !== undefined) packed.max_completion_tokens = maxCompletionTokens;

  return next(packed, packedContext(items.map((item) => item.context))).pipe(
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

const configSchema = s
  .strictObject({
    lanes: s.array(s.string().min(1)).min(1).default(['background']),
    threshold: s.number().int().min(0).default(4),
    stepMs: s.number().positive().default(25),
    maxWaitMs: s.number().min(0).default(200),
    maxBatchSize: s.number().int().min(2).max(100).default(8),
    load: functionSchema<() => number>('a function').optional(),
    scheduler: schedulerSchema.default(() => asyncScheduler),
  });
