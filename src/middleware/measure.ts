import { asyncScheduler, Observable, type SchedulerLike } from 'rxjs';
import * as s from '../internal/check.js';
import { stepOf } from '../core/context.js';
import { isRxllmError } from '../core/errors.js';
import type { FinishReason, LlmEvent, LlmUsage } from '../core/events.js';
import type { Middleware } from '../core/transport.js';
import type { LatencyRegistry } from '../metrics/LatencyRegistry.js';
import type { RequestOutcome } from '../metrics/LatencyRecord.js';
import { clockSchema, validateConfig } from '../core/validateConfig.js';
import { stepOptionRemoved } from './stepOptionRemoved.js';

/** Options for {@link measure}. */
export interface MeasureConfig {
  /** Where the measurements go. One registry is usually shared by the whole app. */
  registry: LatencyRegistry;
  /** The clock. @defaultValue asyncScheduler (virtualised by `TestScheduler.run`) */
  scheduler?: SchedulerLike;
}

/**
 * Middleware: records each request's time to first token, total time, output tokens, decode
 * speed and outcome in a {@link LatencyRegistry}, under the request's step and its model.
 *
 * The step is the request context's (`context.step`, which `step()` sets), else the request's
 * `model`: one `measure()` in one middleware stack serves every step of a pipeline and still
 * gives per-step p50/p95/p99.
 *
 * ```text
 * llm(request, { step: 'summary' })
 * upstream:  --a--b--u--f|         a, b: text; u: usage (completion_tokens 2); f: finish
 * result:    --a--b--u--f|         every event passes through unchanged
 * record:                ^         at completion: step 'summary', ttft 2, total 12, 2 tokens, ok
 * ```
 *
 * - **Emits** exactly the upstream events, unchanged and at the same moments.
 * - **Completes** and **errors** with the upstream; the record is written just before the
 *   completion or error is passed on, so a registry read at that moment includes it. A transport
 *   that throws instead of returning a stream is recorded as an error too. An invalid request is
 *   never recorded: `withMiddleware` rejects it above every middleware.
 * - **Unsubscribe** before the end unsubscribes the upstream (aborting the request) and records
 *   the request as `cancelled`, with its time to first token if one had arrived.
 * - **Cold**: nothing is measured before subscribe; each subscription is one measurement.
 * - Passes the request context on unchanged.
 *
 * What is measured, all on the scheduler's clock: the start is the subscription; the first token
 * is the first content event (text, reasoning or refusal with non-empty text, or a tool-call
 * fragment); output tokens are `completion_tokens` from the usage event, or else the number of
 * content events. Errors are recorded with their {@link RxllmError} code (`'unknown'` for others).
 * `context.attributes` are not recorded: the registry keeps histograms per (step, model) only.
 *
 * Where it sits matters: inside `retry()` or `hedge()` it measures each attempt; outside, the
 * whole request as the caller saw it.
 *
 * @throws {@link RxllmError} `invalid-config` on a bad option, and for the `step` option of
 * 0.1 (the step comes from the request context now).
 *
 * @example
 * ```ts
 * const ask = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }] });
 * const latency = new LatencyRegistry();
 * const llm = withMiddleware(sseTransport({ baseURL }), measure({ registry: latency }));
 * const summary = step('summary', (text: string) => ask(`Summarize: ${text}`), { transport: llm });
 * const keywords = step('keywords', (text: string) => ask(`Keywords of: ${text}`), { transport: llm });
 * await lastValueFrom(parallel({ summary, keywords }).value(text));
 * latency.percentile({ step: 'summary', p: 95 }); // ms to first token, summary's requests only
 * ```
 * @see LatencyRegistry
 */
export function measure(config: MeasureConfig): Middleware {
  const { registry, scheduler = asyncScheduler } = validateConfig('measure', configSchema, config);
  return (next) => (request, context) =>
    // State lives inside the subscribe function: every subscription is its own measurement.
    new Observable<LlmEvent>((subscriber) => {
      const start = scheduler.now();
      let firstToken: number | undefined;
      let contentEvents = 0;
      let usage: LlmUsage | undefined;
      const finishReasons: FinishReason[] = [];
      let recorded = false;

      const done = (outcome: RequestOutcome, errorCode?: string) => {
        recorded = true;
        const fromUsage = typeof usage?.completion_tokens === 'number';
        registry.record({
          step: stepOf(request, context),
          model: request.model,
          start,
          ...(firstToken === undefined ? {} : { firstToken }),
          end: scheduler.now(),
          outcome,
          ...(errorCode === undefined ? {} : { errorCode }),
          outputTokens: fromUsage ? usage!.completion_tokens : contentEvents,
          outputTokensFrom: fromUsage ? 'usage' : 'counted',
          ...(typeof usage?.prompt_tokens === 'number' ? { inputTokens: usage.prompt_tokens } : {}),
          finishReasons,
        });
      };
      const failed = (error: unknown) => {
        done('error', isRxllmError(error) ? error.code : 'unknown');
        subscriber.error(error);
      };

      let events: Observable<LlmEvent>;
      try {
        events = next(request, context);
      } catch (error: unknown) {
        // A transport that throws instead of returning a stream is recorded as an error too. (An invalid
        // request never gets here: withMiddleware rejects it first.)
        failed(error);
        return;
      }
      // One observer, not a tap() operator: every token passes through here. A subscriber that left while the
      // upstream was still subscribing (take(1) over a synchronous stream) hears nothing more, and it is cancelled.
      const upstream = events.subscribe({
        // The hot path: a type switch and a counter; the clock is read once, on the first token.
        next(event) {
          if (subscriber.closed) return;
          if (event.type === 'usage') usage = event.usage;
          else if (event.type === 'finish') finishReasons.push(event.reason);
          else if (event.type === 'tool-call' || event.text !== '') {
            contentEvents++;
            if (firstToken === undefined) firstToken = scheduler.now();
          }
          subscriber.next(event);
        },
        // The record is written before the end reaches the subscriber, so a registry read then includes it.
        complete: () => {
          if (subscriber.closed) return;
          done('ok');
          subscriber.complete();
        },
        error: (error: unknown) => {
          if (!subscriber.closed) failed(error);
        },
      });
      return () => {
        upstream.unsubscribe();
        // Only when the subscriber leaves before completion or error.
        if (!recorded) done('cancelled');
      };
    });
}

const configSchema = s.strictObject({
  registry: s.custom<LatencyRegistry>(
    (value) => typeof (value as LatencyRegistry | undefined)?.record === 'function',
    'expected a LatencyRegistry (new LatencyRegistry())',
  ),
  step: stepOptionRemoved,
  scheduler: clockSchema.optional(),
});

