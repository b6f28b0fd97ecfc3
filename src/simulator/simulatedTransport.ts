import { asyncScheduler, Observable, type SchedulerLike } from 'rxjs';
import { RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import { PartialText } from '../internal/PartialText.js';
import { parseRequest, type LlmRequest } from '../core/request.js';
import type { Transport } from '../core/transport.js';
import { planStep, requestOverride, Simulator } from './plan.js';
import { deltaEvent, usageEvent, wholeResponseEvents } from './planEvents.js';
import { playPlan } from './playPlan.js';
import type { SimulatorProfiles } from './profiles.js';
import { errorFromHttpResponse } from '../transport/httpError.js';

/** Options for {@link simulatedTransport}. */
export interface SimulatedTransportConfig {
  /**
   * Profiles by model name, merged over the built-in ones
   * (`defaultSimulatorProfiles`); a partial profile takes its missing fields from
   * the built-in profile of the same name, else from the fallback `"*"`.
   * Unknown model names get the fallback profile.
   */
  profiles?: SimulatorProfiles;
  /** Seeds every random choice. The same seed and request give the same text and delays, whatever the request order (see `Simulator`). @defaultValue 1 */
  seed?: number;
  /** Where timers run. Pass a `TestScheduler` (or use `TestScheduler.run()`) for virtual time. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/**
 * A {@link Transport} that simulates an OpenAI-compatible model in-process, on
 * RxJS scheduler timers: realistic, seeded time to first token and tokens per
 * second, heavy tails, injected faults, and plausible deterministic answers
 * (sentiment labels, one-sentence summaries, N keywords, JSON for a schema, tool
 * calls, fluent filler). It shares its core with `startSimulatorServer` from
 * `rxllm/node`, and for the same seed and request emits the same events as
 * `sseTransport` pointed at that server.
 *
 * ```text
 * profile gpt-x: ttftMs 300, tokensPerSecond 100, jitter 0
 * llm(req):  300ms a 9ms b 9ms (cfu|)       a, b: text; c: text + finish + usage
 * ```
 *
 * - Each subscription validates the request like the real transports
 *   (`invalid-request`, nothing simulated; free for a request `withMiddleware`
 *   already validated). Its delays depend on its content, not on when it comes
 *   (see the determinism note of `Simulator`): an identical request in flight draws its own.
 *   The request context is for the middleware above: it changes nothing here.
 * - Emits text (or tool-call) events at the planned times, then `finish`, then
 *   `usage` (unless `stream_options` is set without `include_usage`). With
 *   `stream: false` the whole answer arrives at once when generation would end.
 * - Completes after the usage event. Errors, like the HTTP transports would:
 *   an injected HTTP status becomes `rate-limited` (with `retryAfterMs`) or
 *   `server` (or the code for that status); a disconnect becomes
 *   `connection-lost` with the `partialText` so far; a stall never emits again.
 * - Cold; unsubscribe cancels the timers.
 *
 * Per-request overrides: set `rxllm_sim: 'ttft=300,tokens=50,tail_p=0'` on the
 * request (the syntax of the server's `x-rxllm-sim` header). The field is a
 * vendor extension that validation lets through, and it does not change the
 * answer's text.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` at once for invalid profiles or seed.
 * @example
 * ```ts
 * import { lastValueFrom } from 'rxjs';
 * import { text } from 'rxllm';
 * import { simulatedTransport } from 'rxllm/simulator';
 * const llm = simulatedTransport({ seed: 7 });
 * const answer = await lastValueFrom(
 *   llm({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Classify the sentiment as positive or negative: I love it' }] })
 *     .pipe(text()),
 * ); // 'positive', after about 500 ms
 * ```
 */
export function simulatedTransport(config: SimulatedTransportConfig = {}): Transport {
  const simulator = new Simulator({
    ...(config.profiles === undefined ? {} : { profiles: config.profiles }),
    ...(config.seed === undefined ? {} : { seed: config.seed }),
  });
  const scheduler = config.scheduler ?? asyncScheduler;

  return (request: LlmRequest) =>
    new Observable<LlmEvent>((subscriber) => {
      let plan;
      try {
        const valid = parseRequest(request);
        const stream = valid.stream ?? true;
        // The same defaults as sseTransport: usage is asked for unless the request sets stream_options itself.
        const includeUsage = !stream || valid.stream_options == null || valid.stream_options.include_usage === true;
        plan = simulator.planChat(valid, { stream, includeUsage, override: requestOverride(valid) });
      } catch (error) {
        subscriber.error(error);
        return undefined;
      }
      const { stream, requestId } = plan;
      const partial = new PartialText();

      return playPlan(plan, scheduler).subscribe((moment) => {
        if (moment.type === 'step') {
          for (const delta of planStep(plan, moment.index).deltas) {
            const event = deltaEvent(delta);
            partial.add(event);
            subscriber.next(event);
          }
          return;
        }
        const { ending } = moment;
        switch (ending.type) {
          case 'complete':
            simulator.answered(plan);
            if (!stream) for (const event of wholeResponseEvents(plan)) subscriber.next(event);
            if (plan.includeUsage) subscriber.next(usageEvent(plan));
            subscriber.complete();
            return;
          case 'status':
            subscriber.error(errorFromHttpResponse(ending.status, new Headers(ending.headers), ending.body));
            return;
          case 'disconnect':
            subscriber.error(
              new RxllmError('connection-lost', 'The connection was lost mid-answer (simulated disconnect). Retry the request.', {
                // What the HTTP transports report when a streaming body breaks after the 200 headers.
                ...(stream ? { status: 200, requestId } : {}),
                ...partial.errorDetails(),
              }),
            );
            return;
          default:
            return;
        }
      });
    });
}
