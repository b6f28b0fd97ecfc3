import { Observable, Subscriber } from 'rxjs';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { type Middleware, type Transport, withMiddleware } from '../../src/core/transport';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import { cache } from '../../src/middleware/cache';
import { dedupe } from '../../src/middleware/dedupe';
import { hedge } from '../../src/middleware/hedge';
import { limit } from '../../src/middleware/limit';
import { measure } from '../../src/middleware/measure';
import { retry } from '../../src/middleware/retry';
import { timeouts } from '../../src/middleware/timeouts';
import { finishEvent, textEvent } from '../../src/testing/events';

// Every token of an answer crosses each middleware of a stack. RxJS wraps a partial observer
// (`subscribe({ next, error, complete })`) in a SafeSubscriber and a ConsumerObserver: three calls per
// token per middleware, and after a full collection three more functions for V8 to optimise again
// (docs/performance.md, "The resilience stack per token"). So the middleware on a streamed answer's path
// subscribe upstream with one object that is both the Subscription and the Observer, which RxJS takes as
// the subscriber itself. These specs fail if one goes back to a partial observer (or an operator chain),
// and check that the events still arrive whole.

const request: LlmRequest = { model: 'small', messages: [{ role: 'user', content: 'hi' }] };
const events: LlmEvent[] = [textEvent('Hel'), textEvent('lo'), finishEvent('stop')];

/** A transport that emits `events` and remembers the subscriber each subscription was given. */
function recordingTransport(): { transport: Transport; subscribers: unknown[] } {
  const subscribers: unknown[] = [];
  const transport: Transport = () =>
    new Observable<LlmEvent>((subscriber) => {
      subscribers.push(subscriber);
      for (const event of events) subscriber.next(event);
      subscriber.complete();
    });
  return { transport, subscribers };
}

const middleware: Array<[string, () => Middleware]> = [
  ['dedupe()', () => dedupe()],
  ['cache() on a miss', () => cache({ ttl: 60_000 })],
  ['retry()', () => retry({ maxRetries: 2 })],
  ['timeouts()', () => timeouts({ headers: 30_000, firstToken: 30_000, idle: 30_000, total: 120_000 })],
  ['measure()', () => measure({ registry: new LatencyRegistry() })],
  ['limit()', () => limit({ concurrency: 4 })],
  // A backup far off: the original answers alone, as most hedged requests do.
  ['hedge()', () => hedge({ after: 60_000 })],
];

describe('middleware on the per-token path', () => {
  it.each(middleware)('%s subscribes upstream with its own observer, not an RxJS wrapper of a partial observer', async (_name, make) => {
    const { transport, subscribers } = recordingTransport();
    const received: LlmEvent[] = [];
    await new Promise<void>((resolve, reject) =>
      withMiddleware(transport, make())(request).subscribe({ next: (event) => received.push(event), error: reject, complete: resolve }),
    );
    expect(received).toEqual(events);
    expect(subscribers).toHaveLength(1);
    // A partial observer reaches the transport as a SafeSubscriber (an RxJS Subscriber).
    expect(subscribers[0]).not.toBeInstanceOf(Subscriber);
  });

  it('through the whole stack a token reaches the caller with one RxJS wrapper on its way: the caller\'s own', async () => {
    const { transport } = recordingTransport();
    const stack = withMiddleware(transport, ...middleware.map(([, make]) => make()));
    const wrappers: number[] = [];
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 200;
    try {
      await new Promise<void>((resolve, reject) =>
        stack(request).subscribe({
          // The caller's partial observer is wrapped once: its ConsumerObserver is the one frame expected. (RxJS
          // 7's class name: were it renamed, the count would be 0 and this would fail, not pass unseen.)
          next: () => wrappers.push(new Error().stack!.split('\n').filter((frame) => frame.includes('ConsumerObserver.next')).length),
          error: reject,
          complete: resolve,
        }),
      );
    } finally {
      Error.stackTraceLimit = limit;
    }
    expect(wrappers).toEqual(events.map(() => 1));
  });

  // The order a relay keeps (src/internal/Relay.ts), the reverse of an RxJS Subscriber's: the upstream is torn down
  // (its request aborted or released) before the caller hears the end, so a caller that sends again from its
  // handler finds the old request gone. dedupe()'s flight tells its callers first: they share the run.
  it.each(middleware.filter(([name]) => name !== 'dedupe()'))('%s tears the upstream down before the end reaches the caller', async (_name, make) => {
    const log: string[] = [];
    const transport: Transport = () =>
      new Observable<LlmEvent>((subscriber) => {
        const timer = setTimeout(() => {
          for (const event of events) subscriber.next(event);
          subscriber.complete();
        });
        return () => {
          clearTimeout(timer);
          log.push('teardown');
        };
      });
    await new Promise<void>((resolve, reject) =>
      withMiddleware(transport, make())(request).subscribe({
        error: reject,
        complete: () => {
          log.push('complete');
          resolve();
        },
      }),
    );
    expect(log).toEqual(['teardown', 'complete']);
  });
});
