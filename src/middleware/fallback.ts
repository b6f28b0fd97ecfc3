import { catchError, defer, type Observable, tap, throwError } from 'rxjs';
import * as s from '../internal/check.js';
import type { RequestContext } from '../core/context.js';
import { isRxllmError, type RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import type { Transport } from '../core/transport.js';
import { functionSchema, validateConfig } from '../core/validateConfig.js';
import { withFields } from '../internal/withFields.js';

/** A transport in a {@link fallback} list, with a name for callbacks and an optional model to ask it for. */
export interface FallbackCandidate {
  /** Shown in {@link FallbackConfig.onFallback} and {@link FallbackConfig.onServed}. */
  name: string;
  /** The transport this candidate sends through. */
  transport: Transport;
  /** Sent as the request's `model` to this candidate (a cheaper model, another deployment). @defaultValue the request's own */
  model?: string;
}

/** One switch to the next candidate, as {@link FallbackConfig.onFallback} sees it. */
export interface FallbackSwitch {
  /** The candidate that failed before its first token. */
  from: string;
  /** The candidate tried next. */
  to: string;
  /** Why `from` was given up. */
  error: unknown;
}

/** Which candidate answered, as {@link FallbackConfig.onServed} sees it. */
export interface FallbackServed {
  /** The candidate's name. */
  name: string;
  /** Its place in the list, from 0. */
  index: number;
  /** The model it was asked for: its own `model`, else the request's. */
  model: string;
}

/** Options for {@link fallback}. */
export interface FallbackConfig {
  /**
   * Which errors move on to the next candidate. Asked only before the first event was emitted.
   * @defaultValue every error except `invalid-request`, `invalid-config` and errors that are not
   * {@link RxllmError}s (a bug, which another transport would hit too)
   */
  on?: (error: unknown, candidate: string) => boolean;
  /** Called when a candidate is given up for the next one. */
  onFallback?: (info: FallbackSwitch) => void;
  /**
   * Called once per request, with the candidate whose answer is streamed, when its first event
   * arrives (before that event is passed on). The request's context is told too, through
   * {@link RequestContext.onServed}.
   */
  onServed?: (info: FallbackServed) => void;
}

/**
 * A transport that tries candidates in order: when one fails before emitting anything, the next
 * one gets the request. Once a candidate emitted an event its answer is the answer, and an error
 * after that passes through with `tokensEmitted: true`.
 *
 * ```text
 * fallback([primary, backup])
 * primary:  --#                   # = server error
 * backup:     ---a--b|            subscribed when primary fails
 * result:   -----a--b|            onServed({ name: 'backup', index: 1, model }) just before a
 * ```
 *
 * - **Emits** the events of the candidate that answers, unchanged: nothing but the model's
 *   events is in the stream, so a `cache()` above stores and replays only the answer.
 * - **Reports** which candidate answered, once, when its first event arrives: to `onServed` and
 *   to the context's `onServed` (`{ model, by: 'fallback', candidate: name }`). A cached answer
 *   or a caller that joined a shared call (`dedupe()`, `cache()`) is not told: no candidate
 *   answered it.
 * - **Completes** with it.
 * - **Errors** with the last candidate's error when every candidate failed, with an error that
 *   `on` rejects, or with an error after the first event (`tokensEmitted: true`).
 * - **Unsubscribe** aborts the candidate in flight.
 * - **Cold**: each subscription starts again from the first candidate. Each candidate gets the
 *   request's context (step, lane, attributes, what is left of the deadline).
 *
 * To see which candidate answered in the metrics, wrap each candidate in `measure()`; to make a
 * slow primary fail over, wrap it in `timeouts()`.
 *
 * @throws {@link RxllmError} `invalid-config` for an empty list or a bad candidate.
 *
 * @example
 * ```ts
 * const llm = fallback([
 *   { name: 'openai', transport: withMiddleware(openai, timeouts({ firstToken: 3_000 })) },
 *   { name: 'azure', transport: azure, model: 'gpt-4o-mini' },
 * ], { onServed: ({ name }) => log.info(`served by ${name}`) });
 * // or per request, beside it:
 * llm(request, { onServed: ({ candidate, model }) => showBadge(candidate, model) });
 * ```
 */
export function fallback(candidates: readonly (Transport | FallbackCandidate)[], config: FallbackConfig = {}): Transport {
  const { candidates: list, on = defaultOn, onFallback, onServed } = validateConfig('fallback', configSchema, { ...config, candidates });
  const named = list.map((candidate, index): FallbackCandidate =>
    typeof candidate === 'function' ? { name: `candidate ${index}`, transport: candidate } : candidate,
  );

  return (request, context?: RequestContext) =>
    defer(() => {
      let emitted = false;
      const attempt = (index: number): Observable<LlmEvent> => {
        const candidate = named[index]!;
        const sent = candidate.model === undefined ? request : withFields(request, { model: candidate.model });
        return candidate.transport(sent, context).pipe(
          tap(() => {
            if (emitted) return;
            emitted = true;
            onServed?.({ name: candidate.name, index, model: sent.model });
            context?.onServed?.({ model: sent.model, by: 'fallback', candidate: candidate.name });
          }),
          catchError((error: unknown) => {
            if (emitted) {
              return throwError(() => (isRxllmError(error) && error.tokensEmitted !== true ? error.with({ tokensEmitted: true }) : error));
            }
            const nextCandidate = named[index + 1];
            if (!nextCandidate || !on(error, candidate.name)) return throwError(() => error);
            onFallback?.({ from: candidate.name, to: nextCandidate.name, error });
            return attempt(index + 1);
          }),
        );
      };
      return attempt(0);
    });
}

function defaultOn(error: unknown): boolean {
  return isRxllmError(error) && error.code !== 'invalid-request' && error.code !== 'invalid-config';
}

const candidateSchema = s.union([
  functionSchema<Transport>('a transport'),
  s.strictObject({
    name: s.string().min(1),
    transport: functionSchema<Transport>('a transport'),
    model: s.string().min(1).optional(),
  }),
]);

const configSchema = s.strictObject({
  candidates: s.array(candidateSchema).min(1, 'give at least one transport'),
  on: functionSchema<(error: unknown, candidate: string) => boolean>('a function (error, candidate) => boolean').optional(),
  onFallback: functionSchema<(info: FallbackSwitch) => void>('a function (info) => void').optional(),
  onServed: functionSchema<(info: FallbackServed) => void>('a function (info) => void').optional(),
});
