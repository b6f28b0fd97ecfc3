import type { Observable } from 'rxjs';
import { TestScheduler, type RunHelpers } from 'rxjs/testing';
import { RxllmError } from '../core/errors.js';
import type { RecordedRequest, ScriptedTransport } from './scriptedTransport.js';

/** What a pipeline factory given to {@link runInVirtualTime} can use to build its inputs. */
export interface VirtualTimeHelpers {
  /** A cold observable from a marble diagram (`'a 99ms b|'`), as in `TestScheduler.run()`. */
  cold: RunHelpers['cold'];
  /** A hot observable from a marble diagram: user input, a route's params. */
  hot: RunHelpers['hot'];
  /** The frames a marble diagram spans (`time('---|')` is 3). */
  time: RunHelpers['time'];
  /** The scheduler of this run, for operators that take one explicitly. */
  scheduler: TestScheduler;
}

/** Options for {@link runInVirtualTime}. */
export interface RunInVirtualTimeConfig {
  /** The scripted transport(s) under the pipeline; their requests during this run become {@link VirtualRun.requests}. */
  transport?: ScriptedTransport | readonly ScriptedTransport[];
  /** Unsubscribe from the pipeline at this frame (milliseconds), as a component being destroyed would. */
  unsubscribeAt?: number;
  /**
   * The last frame the run plays. A pipeline still running then is unsubscribed,
   * so a never-ending one (an `interval`, an un-completed hot input) cannot hang the test.
   * @defaultValue 600_000 (ten virtual minutes)
   */
  maxTime?: number;
}

/** A value a pipeline emitted, and when. */
export interface Emission<T> {
  /** Frame (virtual milliseconds since subscribe). */
  at: number;
  /** The value emitted. */
  value: T;
}

/** What a pipeline did in virtual time. Frames are virtual milliseconds, 0 = subscribe. */
export interface VirtualRun<T> {
  /** The values, in order. */
  values: T[];
  /** The values with their frames. */
  emissions: Emission<T>[];
  /** Frame of the first value: the time to first token, for a streaming pipeline. */
  firstValueAt: number | undefined;
  /** Frame of completion, if it completed. */
  completedAt: number | undefined;
  /** Frame of the error, if it errored. */
  erroredAt: number | undefined;
  /** The error, if it errored. */
  error: unknown;
  /** Frame at which the run unsubscribed (at `unsubscribeAt` or `maxTime`) because the pipeline had not ended. */
  unsubscribedAt: number | undefined;
  /** The requests the given transports received during this run, in order of subscription. */
  requests: RecordedRequest[];
}

/**
 * Runs a pipeline in virtual time and returns what it did: every value with its
 * frame, when it completed or errored, and the requests it sent.
 *
 * The pipeline is subscribed at frame 0 inside a fresh `TestScheduler.run()`,
 * so every RxJS timer and `asyncScheduler` under it (scripted transports
 * included) runs in virtual time, and the run returns at once. Pass a function
 * to build inputs from marbles (`hot`, `cold`). Call it outside any other
 * `TestScheduler.run()`; plain `expect`s go on the returned object.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for a negative `unsubscribeAt` or a
 * `maxTime` that is not a positive number. Errors thrown by the pipeline's own code
 * inside a scheduled task propagate.
 *
 * @example
 * ```ts
 * import { forkJoin } from 'rxjs';
 * import { text } from 'rxllm';
 * import { runInVirtualTime, scriptedTransport, textScript } from 'rxllm/testing';
 *
 * const llm = scriptedTransport({
 *   fast: textScript('positive', { at: 300 }),
 *   slow: textScript('A short summary.', { at: 900 }),
 * });
 * const ask = (model: string) => llm({ model, messages: [{ role: 'user', content: 'Hi' }] }).pipe(text());
 * const run = runInVirtualTime(forkJoin([ask('fast'), ask('slow')]), { transport: llm });
 * expect(run.completedAt).toBe(900);            // parallel: the slowest step, not the sum
 * expect(run.requests.map((r) => r.subscribedAt)).toEqual([0, 0]);
 * ```
 * @see scriptedTransport
 */
export function runInVirtualTime<T>(
  pipeline: Observable<T> | ((helpers: VirtualTimeHelpers) => Observable<T>),
  config: RunInVirtualTimeConfig = {},
): VirtualRun<T> {
  const maxTime = config.maxTime ?? 600_000;
  if (typeof maxTime !== 'number' || !(maxTime > 0)) {
    throw new RxllmError('invalid-config', `runInVirtualTime(): \`maxTime\` must be a number of milliseconds > 0, got ${String(maxTime)}.`);
  }
  const { unsubscribeAt } = config;
  if (unsubscribeAt !== undefined && !(unsubscribeAt >= 0)) {
    throw new RxllmError('invalid-config', `runInVirtualTime(): \`unsubscribeAt\` must be a frame ≥ 0, got ${String(unsubscribeAt)}.`);
  }
  const transports: readonly ScriptedTransport[] =
    config.transport === undefined ? [] : Array.isArray(config.transport) ? config.transport : [config.transport as ScriptedTransport];
  // Only this run's requests are reported, so one transport can serve several runs.
  const seen = transports.map((transport) => transport.requests.length);

  const run: VirtualRun<T> = {
    values: [],
    emissions: [],
    firstValueAt: undefined,
    completedAt: undefined,
    erroredAt: undefined,
    error: undefined,
    unsubscribedAt: undefined,
    requests: [],
  };
  const scheduler = new TestScheduler(() => {
    throw new RxllmError('invalid-config', 'runInVirtualTime() has no marble assertions; use your own TestScheduler.run() for expectObservable.');
  });
  scheduler.run(({ cold, hot, time }) => {
    // run() lifts the frame limit to Infinity; the cap goes back on so that a never-ending pipeline stops.
    scheduler.maxFrames = maxTime;
    const source = typeof pipeline === 'function' ? pipeline({ cold, hot, time, scheduler }) : pipeline;
    const subscription = source.subscribe({
      next: (value) => {
        run.firstValueAt ??= scheduler.now();
        run.values.push(value);
        run.emissions.push({ at: scheduler.now(), value });
      },
      error: (error: unknown) => {
        run.erroredAt = scheduler.now();
        run.error = error;
      },
      complete: () => {
        run.completedAt = scheduler.now();
      },
    });
    scheduler.schedule(() => {
      if (subscription.closed) return;
      run.unsubscribedAt = scheduler.now();
      subscription.unsubscribe();
    }, Math.min(unsubscribeAt ?? Infinity, maxTime));
  });

  run.requests = transports
    .flatMap((transport, i) => transport.requests.slice(seen[i]))
    .sort((a, b) => a.subscribedAt - b.subscribedAt);
  return run;
}
