import { catchError, concatMap, defer, type Observable, of, throwError } from 'rxjs';
import { z } from 'zod';
import { isRxllmError, type RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import type { Transport } from '../core/transport.js';
import { functionSchema, validateConfig } from '../core/validateConfig.js';

/** A transport in a {@link fallback} list, with a name for callbacks and an optional model to ask it for. */
export interface FallbackCandidate {
  /** Shown in {@link FallbackConfig.onFallback} and {@link FallbackConfig.onServed}. */
  name: string;
  transport: Transport;
  /** Sent as the request's `model` to this candidate (a cheaper model, another deployment). @defaultValue the request's own */
  model?: string;
}

/** One switch to the next candidate, as {@link FallbackConfig.onFallback} sees it. */
export interface FallbackSwitch {
  from: string;
  to: string;
  /** Why `from` was given up. */
  error: unknown;
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
  /** Called once per request, with the candidate whose answer is streamed, when its first event arrives. */
  onServed?: (info: { name: string; index: number }) => void;
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
 * result:   -----(sa)--b|        s = served { by: 'backup' }
 * ```
 *
 * - **Emits** a `served` event naming the candidate that answers, then that candidate's events
 *   (`result()` reports it as `servedBy`).
 * - **Completes** with it.
 * - **Errors** with the last candidate's error when every candidate failed, with an error that
 *   `on` rejects, or with an error after the first event (`tokensEmitted: true`).
 * - **Unsubscribe** aborts the candidate in flight.
 * - **Cold**: each subscription starts again from the first candidate.
 *
 * Which candidate served is in the stream (the `served` event) and reported by `onServed`. To see it in the metrics, wrap each candidate
 * in `measure()` (with its own `step`); to make a slow primary fail over, wrap it in `timeouts()`.
 *
 * @throws {@link RxllmError} `invalid-config` for an empty list or a bad candidate.
 *
 * @example
 * ```ts
 * const llm = fallback([
 *   { name: 'openai', transport: withMiddleware(openai, timeouts({ firstToken: 3_000 })) },
 *   { name: 'azure', transport: azure, model: 'gpt-4o-mini' },
 * ], { onServed: ({ name }) => log.info(`served by ${name}`) });
 * ```
 */
export function fallback(candidates: readonly (Transport | FallbackCandidate)[], config: FallbackConfig = {}): Transport {
  const { candidates: list, on = defaultOn, onFallback, onServed } = validateConfig('fallback', configSchema, { ...config, candidates });
  const named = list.map((candidate, index): FallbackCandidate =>
    typeof candidate === 'function' ? { name: `candidate ${index}`, transport: candidate } : candidate,
  );

  return (request: LlmRequest) =>
    defer(() => {
      let emitted = false;
      const attempt = (index: number): Observable<LlmEvent> => {
        const candidate = named[index]!;
        const sent = candidate.model === undefined ? request : { ...request, model: candidate.model };
        return candidate.transport(sent).pipe(
          concatMap((event) => {
            if (emitted) return of(event);
            emitted = true;
            onServed?.({ name: candidate.name, index });
            const served: LlmEvent = { type: 'served', choice: 0, by: candidate.name, ...(candidate.model === undefined ? {} : { model: candidate.model }) };
            return of(served, event);
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

const candidateSchema = z.union([
  functionSchema<Transport>('a transport'),
  z.strictObject({
    name: z.string().min(1),
    transport: functionSchema<Transport>('a transport'),
    model: z.string().min(1).optional(),
  }),
]);

const configSchema = z.strictObject({
  candidates: z.array(candidateSchema).min(1, 'give at least one transport'),
  on: functionSchema<(error: unknown, candidate: string) => boolean>('a function (error, candidate) => boolean').optional(),
  onFallback: functionSchema<(info: FallbackSwitch) => void>('a function (info) => void').optional(),
  onServed: functionSchema<(info: { name: string; index: number }) => void>('a function (info) => void').optional(),
});
