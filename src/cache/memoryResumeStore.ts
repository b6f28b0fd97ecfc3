import { asyncScheduler, concat, defer, from, type Observable, type SchedulerLike, Subject, takeWhile, timeout } from 'rxjs';
import * as s from '../internal/check.js';
import { RxllmError } from '../core/errors.js';
import { schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { isFinalResumeEvent, type ResumeEvent, type ResumeStore } from './ResumeStore.js';

/** Options for {@link memoryResumeStore}. */
export interface MemoryResumeStoreConfig {
  /**
   * How long a stream is kept after its last event (or after its claim, until its first), in
   * milliseconds: a finished stream can be replayed this long. A reader that waits this long for
   * the next event of an unfinished stream (its producer is gone) ends with `incomplete-stream`.
   * @defaultValue 300000 (5 minutes)
   */
  ttl?: number;
  /** Most streams held; past it the oldest goes first (its readers end with `incomplete-stream`). @defaultValue 1000 */
  maxStreams?: number;
  /** Clock for expiry and for the readers' wait. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** A {@link ResumeStore} in this process's memory. */
export interface MemoryResumeStore extends ResumeStore {
  /** Streams held now (expired ones are dropped lazily, so this may count a few). */
  size(): number;
}

interface Stream {
  readonly events: ResumeEvent[];
  /** Each appended event, for readers following the stream live. */
  readonly live: Subject<ResumeEvent>;
  expiresAt: number;
  ended: boolean;
}

/**
 * A {@link ResumeStore} in memory, for a single instance (or several whose load balancer pins a
 * stream's reconnects to the instance that runs it): `toServerSentEvents(source, res, { resume:
 * { store: memoryResumeStore(), streamId } })`. For many instances use `redisResumeStore` from
 * `rxllm/redis`.
 *
 * - `claim()` is synchronous: `true` for a stream id it does not hold (or that expired).
 * - `read()` replays the held events after the id synchronously, then follows appends live, and
 *   completes after `done` or `error`. It errors with `incomplete-stream` for a stream it does not
 *   hold, or when no event comes for `ttl` (the producer stopped without ending the stream).
 * - Bounded: a stream is dropped `ttl` after its last append (checked lazily: no timer runs while
 *   nobody reads, so the store never keeps a process alive), and the oldest streams go past
 *   `maxStreams`. Each held stream keeps all its events (one answer's worth).
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for a `ttl` or `maxStreams` that is not a positive
 * integer, or a scheduler without `now()` and `schedule()`.
 *
 * @example
 * ```ts
 * import { memoryResumeStore, toServerSentEvents } from 'rxllm/node';
 * const store = memoryResumeStore({ ttl: 10 * 60_000 });
 * // in the handler of GET /answers/:messageId
 * toServerSentEvents(answer$, res, { resume: { store, streamId: messageId } });
 * ```
 */
export function memoryResumeStore(config: MemoryResumeStoreConfig = {}): MemoryResumeStore {
  const { ttl, maxStreams, scheduler } = validateConfig('memoryResumeStore', configSchema, config);
  // A Map keeps insertion order: the first key is the oldest stream.
  const streams = new Map<string, Stream>();

  const held = (streamId: string): Stream | undefined => {
    const stream = streams.get(streamId);
    if (stream && stream.expiresAt <= scheduler.now()) {
      drop(streamId, stream);
      return undefined;
    }
    return stream;
  };

  const drop = (streamId: string, stream: Stream) => {
    streams.delete(streamId);
    if (!stream.ended) stream.live.error(gone(streamId));
  };

  return {
    claim: (streamId) => {
      if (held(streamId)) return false;
      // Sweep what expired, then make room: the oldest streams go first.
      for (const [id, stream] of streams) if (stream.expiresAt <= scheduler.now()) drop(id, stream);
      while (streams.size >= maxStreams) {
        const [id, stream] = streams.entries().next().value as [string, Stream];
        drop(id, stream);
      }
      streams.set(streamId, { events: [], live: new Subject(), expiresAt: scheduler.now() + ttl, ended: false });
      return true;
    },
    append: (streamId, events) => {
      const stream = held(streamId);
      if (!stream) throw gone(streamId);
      stream.expiresAt = scheduler.now() + ttl;
      for (const event of events) {
        if (stream.ended) break;
        stream.events.push(event);
        stream.ended = isFinalResumeEvent(event);
        stream.live.next(event);
        if (stream.ended) stream.live.complete();
      }
    },
    read: (streamId, afterId) =>
      defer((): Observable<ResumeEvent> => {
        const stream = held(streamId);
        if (!stream) throw gone(streamId);
        const stored = from(stream.events.filter((event) => event.id > afterId));
        if (stream.ended) return stored;
        // Synchronous from here to the subscription of `live`: no append can fall between the two.
        const following = stream.live.pipe(
          takeWhile((event) => !isFinalResumeEvent(event), true),
          timeout({
            each: ttl,
            scheduler,
            with: () => {
              throw new RxllmError('incomplete-stream', `memoryResumeStore: no event of stream ${JSON.stringify(streamId)} came for ${ttl} ms: whatever produced it stopped without ending it.`);
            },
          }),
        );
        return concat(stored, following);
      }),
    size: () => streams.size,
  };
}

function gone(streamId: string): RxllmError {
  return new RxllmError(
    'incomplete-stream',
    `memoryResumeStore: no stream ${JSON.stringify(streamId)} here: it expired, was pushed out by newer streams (maxStreams), or was started on another instance. Behind a load balancer without sticky sessions, use redisResumeStore.`,
  );
}

const positiveInt = s.number().int().positive();
const configSchema = s.strictObject({
  ttl: positiveInt.default(300_000),
  maxStreams: positiveInt.default(1000),
  scheduler: schedulerSchema.default(() => asyncScheduler),
});
