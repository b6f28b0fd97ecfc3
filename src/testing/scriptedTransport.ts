import { asyncScheduler, Observable, type SchedulerLike } from 'rxjs';
import type { RequestContext } from '../core/context.js';
import { RxllmError, type RxllmErrorCode, type RxllmErrorDetails } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import { PartialText } from '../internal/PartialText.js';
import { parseRequest, type LlmRequest } from '../core/request.js';
import { timeline } from '../internal/timeline.js';
import { compileScript, type Script, type TimedStep } from './script.js';

/**
 * The scripts a {@link scriptedTransport} answers from: one per model name, or a
 * function that picks one for each request (`index` counts every request this
 * transport has received, from 0, so `index === 0 ? failure : success` scripts
 * a retry; `context` is the request's {@link RequestContext}, so a script can
 * depend on `context.step`).
 */
export type Scripts = Readonly<Record<string, Script>> | ((request: LlmRequest, index: number, context: RequestContext | undefined) => Script);

/** Options for {@link scriptedTransport}. */
export interface ScriptedTransportConfig {
  /**
   * Times the scripts and stamps the records. Inside `TestScheduler.run()` the
   * default is virtual too, so scripts play out in exact frames.
   * @defaultValue `asyncScheduler`
   */
  scheduler?: SchedulerLike;
  /**
   * Validate each request as a real transport does: an invalid one fails at
   * subscribe with `invalid-request` and plays no script.
   * @defaultValue true
   */
  validate?: boolean;
}

/** How a recorded request ended: still `open`, or `completed`, `errored`, or `cancelled` (unsubscribed first). */
export type RecordedOutcome = 'open' | 'completed' | 'errored' | 'cancelled';

/**
 * One request a {@link scriptedTransport} received (one per subscription). Times
 * are `scheduler.now()`: frames inside `TestScheduler.run()`, epoch milliseconds
 * in real time.
 */
export interface RecordedRequest {
  /** Order of arrival, from 0. */
  readonly index: number;
  /** The request as received (validated). */
  readonly request: LlmRequest;
  /** The context the request came with (what the middleware above passed down), or undefined. */
  readonly context: RequestContext | undefined;
  /** Its `model`: which script answered it. */
  readonly model: string;
  /** When it was subscribed (a frame in virtual time; ms in real time). */
  readonly subscribedAt: number;
  /** When it completed, errored or was unsubscribed; undefined while open. */
  readonly endedAt: number | undefined;
  /** How it ended: `completed`, `errored` or `cancelled` (unsubscribed first), or `open` while it runs. */
  readonly outcome: RecordedOutcome;
  /** The error it failed with, when `outcome` is `errored`. */
  readonly error: unknown;
  /** The events it delivered, in order. */
  readonly events: readonly LlmEvent[];
}

/**
 * A subscription's frames in the shape RxJS's `expectSubscriptions` reads;
 * `unsubscribedFrame` is `Infinity` while the request is open.
 */
export interface SubscriptionFrames {
  /** When the subscription started (a frame). */
  subscribedFrame: number;
  /** When it ended (a frame), or `Infinity` while open. */
  unsubscribedFrame: number;
}

/** A {@link rxllm!Transport | Transport} that plays scripts, with the record of every request it received. */
export interface ScriptedTransport {
  (request: LlmRequest, context?: RequestContext): Observable<LlmEvent>;
  /** Every request received so far, in order of arrival. The array is live: it grows and its entries update. */
  readonly requests: readonly RecordedRequest[];
  /**
   * Every subscription's frames, for `expectSubscriptions(llm.subscriptions).toBe([...])` inside
   * `TestScheduler.run()`. Live like {@link ScriptedTransport.requests}; read it, don't change it.
   */
  readonly subscriptions: SubscriptionFrames[];
  /** The same frames for one model's requests only (live, and fine to ask for before any request). */
  subscriptionsTo(model: string): SubscriptionFrames[];
  /** Requests open right now. */
  readonly inFlight: number;
  /** The most requests that were open at once. */
  readonly peakInFlight: number;
}

const STATUS_FOR: Partial<Record<RxllmErrorCode, number>> = {
  auth: 401,
  'bad-request': 400,
  'rate-limited': 429,
  server: 500,
};

/**
 * A {@link rxllm!Transport | Transport} whose answers come from scripts, for testing pipelines in
 * virtual time (or real time), with a record of every request.
 *
 * Each subscription is one request: it is validated (unless `validate: false`),
 * its script is looked up by `request.model` (or from the `scripts` function),
 * and the script plays out on the scheduler, its times counted from subscribe
 * (at the exact frames, whatever the start time). The {@link RequestContext} is
 * recorded with the request (`requests[i].context`) so a test can check what the
 * middleware above passed down; it is never part of the answer.
 * Emits the script's events; completes after the last step, or errors where the
 * script says (an {@link rxllm!RxllmError | RxllmError} of the given code, with `status`,
 * `tokensEmitted` and `partialText` filled in as a real transport would); a
 * model with no script errors at once with `bad-request` (status 404).
 * Unsubscribe cancels the script's timers and records the request `cancelled`.
 * Cold: nothing is recorded or played before subscribe.
 *
 * ```text
 * script:   300ms a 9ms b 9ms (f|)      a: textEvent('Hel'), b: textEvent('lo'), f: finishEvent('stop')
 * llm(req): 300ms a 9ms b 9ms (f|)      (frames counted from each subscription)
 * ```
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` at once when a script in a `scripts`
 * object is malformed (a function's scripts are checked per request, and fail that request).
 *
 * @example
 * ```ts
 * import { TestScheduler } from 'rxjs/testing';
 * import { text } from 'rxllm';
 * import { scriptedTransport, textEvent, finishEvent } from 'rxllm/testing';
 *
 * const llm = scriptedTransport({
 *   'gpt-4o-mini': [{ at: 300, text: 'Hel' }, { at: 310, text: 'lo' }, { at: 320, finish: 'stop' }],
 *   'gpt-4o': { marbles: '600ms a 9ms (f|)', values: { a: textEvent('Hi'), f: finishEvent('stop') } },
 * });
 * const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
 * new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ expectObservable, expectSubscriptions }) => {
 *   expectObservable(llm(request).pipe(text())).toBe('320ms (t|)', { t: 'Hello' });
 *   expectSubscriptions(llm.subscriptions).toBe('^ 319ms !');
 * });
 * ```
 * @see runInVirtualTime
 */
export function scriptedTransport(scripts: Scripts, config: ScriptedTransportConfig = {}): ScriptedTransport {
  const scheduler = config.scheduler ?? asyncScheduler;
  const validate = config.validate ?? true;
  const lookup = scriptLookup(scripts);
  const requests: Recorded[] = [];
  const subscriptions: SubscriptionFrames[] = [];
  const byModel = new Map<string, SubscriptionFrames[]>();
  let inFlight = 0;
  let peakInFlight = 0;

  const subscriptionsTo = (model: string): SubscriptionFrames[] => {
    let frames = byModel.get(model);
    if (!frames) byModel.set(model, (frames = []));
    return frames;
  };

  const transport = (request: LlmRequest, context?: RequestContext): Observable<LlmEvent> =>
    new Observable<LlmEvent>((subscriber) => {
      const now = scheduler.now();
      const frames: SubscriptionFrames = { subscribedFrame: now, unsubscribedFrame: Infinity };
      const record: Recorded = {
        index: requests.length,
        request,
        context,
        model: String(request.model),
        subscribedAt: now,
        endedAt: undefined,
        outcome: 'open',
        error: undefined,
        events: [],
      };
      requests.push(record);
      subscriptions.push(frames);
      subscriptionsTo(record.model).push(frames);
      peakInFlight = Math.max(peakInFlight, ++inFlight);

      const end = (outcome: RecordedOutcome, error?: unknown): void => {
        if (record.outcome !== 'open') return;
        record.outcome = outcome;
        record.error = error;
        record.endedAt = frames.unsubscribedFrame = scheduler.now();
        inFlight--;
      };

      let steps: TimedStep[];
      try {
        if (validate) parseRequest(request);
        steps = lookup(request, record.index, context);
      } catch (error) {
        end('errored', error);
        subscriber.error(error);
        return;
      }

      // Each step is due at its time after subscribe, counted from the subscription (not from the
      // step before), so real-time runs do not drift and virtual time lands on exact frames.
      const partial = new PartialText();
      const times = steps.map((step) => step.at);
      const playing = timeline(times, scheduler).subscribe((index) => {
        const step = steps[index]!;
        if (step.kind === 'event') {
          const { event } = step;
          record.events.push(event);
          partial.add(event);
          subscriber.next(event);
        } else if (step.kind === 'complete') {
          end('completed');
          subscriber.complete();
        } else {
          const error = scriptedError(step, record, partial);
          end('errored', error);
          subscriber.error(error);
        }
      });

      return () => {
        playing.unsubscribe();
        end('cancelled');
      };
    });

  return Object.defineProperties(transport as ScriptedTransport, {
    requests: { value: requests, enumerable: true },
    subscriptions: { value: subscriptions, enumerable: true },
    subscriptionsTo: { value: subscriptionsTo },
    inFlight: { get: () => inFlight, enumerable: true },
    peakInFlight: { get: () => peakInFlight, enumerable: true },
  });
}

type Recorded = { -readonly [K in keyof RecordedRequest]: K extends 'events' ? LlmEvent[] : RecordedRequest[K] };

function scriptLookup(scripts: Scripts): (request: LlmRequest, index: number, context: RequestContext | undefined) => TimedStep[] {
  if (typeof scripts === 'function') {
    return (request, index, context) => compileScript(scripts(request, index, context), `script for request ${index} (model "${String(request.model)}")`);
  }
  if (typeof scripts !== 'object' || scripts === null || Array.isArray(scripts)) {
    throw new RxllmError(
      'invalid-config',
      'scriptedTransport: pass scripts keyed by model name ({ "gpt-4o-mini": [...] }) or a function (request, index) => script.',
    );
  }
  // Compiled once, here, so a malformed script fails the test where the transport is made.
  const compiled = new Map(Object.entries(scripts).map(([model, script]) => [model, compileScript(script, `script for "${model}"`)]));
  return (request) => {
    const model = String(request.model);
    const steps = compiled.get(model);
    if (steps) return steps;
    throw new RxllmError(
      'bad-request',
      `scriptedTransport has no script for model "${model}"; it has scripts for ${[...compiled.keys()].map((name) => `"${name}"`).join(', ') || 'no model'}. Add one, or fix the request's model.`,
      { status: 404, tokensEmitted: false },
    );
  };
}

function scriptedError(step: Extract<TimedStep, { kind: 'error' }>, record: Recorded, partial: PartialText): unknown {
  if (typeof step.error !== 'string') return step.error;
  const code = step.error;
  const status = STATUS_FOR[code];
  const details: RxllmErrorDetails = {
    ...(status === undefined ? {} : { status }),
    ...partial.errorDetails(),
    ...step.details,
  };
  return new RxllmError(code, `Scripted ${code} error ${step.at} ms into request ${record.index} (model "${record.model}").`, details);
}
