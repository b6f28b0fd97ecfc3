import { asyncScheduler, Observable, type SchedulerLike, type Subscriber } from 'rxjs';
import { Relay } from '../internal/Relay.js';
import { reportUnhandledError } from '../internal/reportUnhandledError.js';
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
 *   completion or error is passed on, so a registry read at that moment includes it. A registry
 *   that throws does not cut the answer off: the end still goes on, and the error is reported as
 *   RxJS reports an unhandled one (`config.onUnhandledError`, else thrown on a timer). A transport
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
    // State lives in the subscription's Measurement: every subscription is its own measurement.
    new Observable<LlmEvent>((subscriber) => {
      const measurement = new Measurement(subscriber, registry, scheduler, stepOf(request, context), request.model);
      let events: Observable<LlmEvent>;
      try {
        events = next(request, context);
      } catch (error: unknown) {
        // A transport that throws instead of returning a stream is recorded as an error too. (An invalid
        // request never gets here: withMiddleware rejects it first.)
        measurement.error(error);
        return;
      }
      events.subscribe(measurement);
      return () => {
        measurement.unsubscribe();
        // Only when the subscriber leaves before completion or error.
        measurement.cancelled();
      };
    });
}

/**
 * One request's measurement, and the observer of its events: a Relay, since every token passes here
 * (see Relay for why not a partial observer).
 */
class Measurement extends Relay<LlmEvent, LlmEvent> {
  private readonly start: number;
  private firstToken: number | undefined = undefined;
  private contentEvents = 0;
  private usage: LlmUsage | undefined = undefined;
  private readonly finishReasons: FinishReason[] = [];
  private recorded = false;

  constructor(
    destination: Subscriber<LlmEvent>,
    private readonly registry: LatencyRegistry,
    private readonly scheduler: SchedulerLike,
    private readonly step: string,
    private readonly model: string,
  ) {
    super(destination);
    this.start = scheduler.now();
  }

  // The hot path: a type switch and a counter; the clock is read once, on the first token. A subscriber
  // that left while the upstream was still subscribing (take(1) over a synchronous stream) hears nothing
  // more, and it is cancelled. The checks ask the destination, not this relay: the relay is closed only
  // after its destination (by the teardown) or by its own end, and in that window (the destination gone,
  // the teardown not yet added) the request must not be recorded as 'ok'.
  next(event: LlmEvent): void {
    if (this.destination.closed) return;
    if (event.type === 'usage') this.usage = event.usage;
    else if (event.type === 'finish') this.finishReasons.push(event.reason);
    else if (event.type === 'tool-call' || event.text !== '') {
      this.contentEvents++;
      if (this.firstToken === undefined) this.firstToken = this.scheduler.now();
    }
    this.destination.next(event);
  }

  // The record is written before the end reaches the subscriber, so a registry read then includes it.
  override complete(): void {
    if (this.destination.closed) return;
    this.record('ok');
    super.complete();
  }

  override error(error: unknown): void {
    if (this.destination.closed) return;
    this.record('error', isRxllmError(error) ? error.code : 'unknown');
    super.error(error);
  }

  /** The subscriber left: recorded as cancelled, unless the request had already ended. */
  cancelled(): void {
    if (!this.recorded) this.record('cancelled');
  }

  private record(outcome: RequestOutcome, errorCode?: string): void {
    this.recorded = true;
    try {
      this.write(outcome, errorCode);
    } catch (error: unknown) {
      // A registry that throws (any object with `record` is accepted) must not cut the answer off: the
      // end still reaches the subscriber, and the error is reported, not lost.
      reportUnhandledError(error);
    }
  }

  private write(outcome: RequestOutcome, errorCode: string | undefined): void {
    const usage = this.usage;
    const fromUsage = typeof usage?.completion_tokens === 'number';
    this.registry.record({
      step: this.step,
      model: this.model,
      start: this.start,
      ...(this.firstToken === undefined ? {} : { firstToken: this.firstToken }),
      end: this.scheduler.now(),
      outcome,
      ...(errorCode === undefined ? {} : { errorCode }),
      outputTokens: fromUsage ? usage!.completion_tokens : this.contentEvents,
      outputTokensFrom: fromUsage ? 'usage' : 'counted',
      ...(typeof usage?.prompt_tokens === 'number' ? { inputTokens: usage.prompt_tokens } : {}),
      finishReasons: this.finishReasons,
    });
  }
}

const configSchema = s.strictObject({
  registry: s.custom<LatencyRegistry>(
    (value) => typeof (value as LatencyRegistry | undefined)?.record === 'function',
    'expected a LatencyRegistry (new LatencyRegistry())',
  ),
  step: stepOptionRemoved,
  scheduler: clockSchema.optional(),
});

