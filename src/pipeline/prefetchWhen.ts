import { type MonoTypeOperatorFunction, tap } from 'rxjs';
import type { RequestContext } from '../core/context.js';
import type { LlmRequest } from '../core/request.js';
import type { Prefetcher } from './prefetcher.js';

/**
 * A predicted follow-up: a request (kept under its request key), or
 * `{ request, name?, context? }`: under a name when given, and sent with a
 * {@link RequestContext} when given (`{ step: 'keywords', lane: 'background' }`).
 */
export type PrefetchPrediction =
  | LlmRequest
  | {
      /** The prefetch's name, to `take(name, …)` it by (else it is taken by its request). */
      readonly name?: string;
      /** The request to send ahead of demand. */
      readonly request: LlmRequest;
      /** The request context it is sent with (`step`, `lane`, …). */
      readonly context?: RequestContext;
    };

/**
 * Starts the predicted follow-ups of each value as it passes, on a
 * {@link rxllm!prefetcher | prefetcher()}; the values themselves pass through untouched.
 *
 * ```text
 * source:     --s------t--|
 * result:     --s------t--|
 * prefetches:   ^ predict(s)  ^ predict(t)   (started hot, at once)
 * ```
 *
 * - **Emits** every source value unchanged, after starting its predictions.
 * - **Completes** with the source. **Errors** with the source, or with what
 *   `predict` throws (nothing is started for that value).
 * - **Unsubscribe** unsubscribes the source; prefetches already started are
 *   hot and keep running until taken or until their TTL (the prefetcher's rule).
 * - Cold itself; each prediction is `prefetcher.prefetch(...)`, which skips a
 *   follow-up already held.
 *
 * @example
 * ```ts
 * // As in handle_user_action: once the summary is done, the keywords are likely next.
 * summary$.pipe(
 *   prefetchWhen(ahead, (summary) => ({
 *     name: 'likely_followup_keywords',
 *     request: keywordsRequest(summary),
 *     context: { step: 'keywords', lane: 'background' },
 *   })),
 * ).subscribe(render);
 * ```
 * @see prefetcher
 */
export function prefetchWhen<T>(
  prefetcher: Prefetcher,
  predict: (value: T) => PrefetchPrediction | readonly PrefetchPrediction[] | null | undefined,
): MonoTypeOperatorFunction<T> {
  return (source) =>
    source.pipe(
      // Inside tap, so a throw from predict (or an invalid named prediction) goes downstream as an error.
      tap((value) => {
        const predicted = predict(value);
        if (predicted == null) return;
        for (const prediction of isList(predicted) ? predicted : [predicted]) {
          if (isRequest(prediction)) prefetcher.prefetch(prediction);
          else if (prediction.name === undefined) prefetcher.prefetch(prediction.request, prediction.context);
          else prefetcher.prefetch(prediction.name, prediction.request, prediction.context);
        }
      }),
    );
}

function isList(value: PrefetchPrediction | readonly PrefetchPrediction[]): value is readonly PrefetchPrediction[] {
  return Array.isArray(value);
}

// A request always has messages; a named prediction never does.
function isRequest(prediction: PrefetchPrediction): prediction is LlmRequest {
  return 'messages' in prediction;
}
