import { TestScheduler } from 'rxjs/testing';
import { memoryResumeStore } from '../../src/cache/memoryResumeStore';
import type { ResumeEvent } from '../../src/cache/ResumeStore';
import { RxllmError } from '../../src/core/errors';

const event = (id: number, data = `t${id}`): ResumeEvent => ({ id, data });
const done = (id: number): ResumeEvent => ({ id, event: 'done', data: '{}' });

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('memoryResumeStore', () => {
  it('claim: true once per stream id, false while the stream is held', () => {
    const store = memoryResumeStore();
    expect(store.claim('a')).toBe(true);
    expect(store.claim('a')).toBe(false);
    expect(store.claim('b')).toBe(true);
    expect(store.size()).toBe(2);
  });

  it('read: the stored events after the id at once, then each append live, completing after the final event', () => {
    const test = scheduler();
    test.run(({ expectObservable, cold }) => {
      const store = memoryResumeStore({ scheduler: test });
      store.claim('s');
      store.append('s', [event(1), event(2), event(3)]);
      // Appends at 5 ms and 8 ms; a reader from after 1 and one from the start.
      cold('5ms a 2ms b').subscribe((step) => store.append('s', step === 'a' ? [event(4)] : [event(5), done(6)]));
      expectObservable(store.read('s', 1)).toBe('(bc) 1ms d 2ms (ef|)', { b: event(2), c: event(3), d: event(4), e: event(5), f: done(6) });
      expectObservable(store.read('s', 0)).toBe('(abc)d 2ms (ef|)', { a: event(1), b: event(2), c: event(3), d: event(4), e: event(5), f: done(6) });
    });
  });

  it('a finished stream replays synchronously from any id; an append after the final event is ignored', () => {
    const test = scheduler();
    test.run(({ expectObservable }) => {
      const store = memoryResumeStore({ scheduler: test });
      store.claim('s');
      store.append('s', [event(1), event(2), { id: 3, event: 'error', data: '{"code":"server"}' }]);
      store.append('s', [event(4)]);
      expectObservable(store.read('s', 2)).toBe('(e|)', { e: { id: 3, event: 'error', data: '{"code":"server"}' } });
      expectObservable(store.read('s', 3)).toBe('|');
    });
  });

  it('expires a stream ttl after its last append: reads then error with incomplete-stream and the id can be claimed anew', () => {
    const test = scheduler();
    test.run(({ expectObservable, cold }) => {
      const store = memoryResumeStore({ scheduler: test, ttl: 100 });
      store.claim('s');
      store.append('s', [event(1), done(2)]);
      // Held at 99 ms, gone at 100 ms (read is cold: it looks when subscribed).
      expectObservable(store.read('s', 0), '99ms ^').toBe('99ms (ab|)', { a: event(1), b: done(2) });
      expectObservable(store.read('s', 0), '100ms ^').toBe('100ms #', undefined, expect.objectContaining({ code: 'incomplete-stream' }) as unknown as RxllmError);
      const claims: boolean[] = [];
      cold('101ms a').subscribe(() => claims.push(store.claim('s') as boolean));
      test.flush();
      expect(claims).toEqual([true]);
    });
  });

  it('a reader of a stream whose producer stopped without ending it errors after ttl without an event', () => {
    const test = scheduler();
    test.run(({ expectObservable }) => {
      const store = memoryResumeStore({ scheduler: test, ttl: 50 });
      store.claim('s');
      store.append('s', [event(1)]);
      expectObservable(store.read('s', 0)).toBe('a 49ms #', { a: event(1) }, expect.objectContaining({ code: 'incomplete-stream' }) as unknown as Error);
    });
  });

  it('reading or appending to a stream it does not hold → incomplete-stream', () => {
    const store = memoryResumeStore();
    let error: unknown;
    store.read('nope', 0).subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toMatchObject({ code: 'incomplete-stream' });
    expect(() => store.append('nope', [event(1)])).toThrow(expect.objectContaining({ code: 'incomplete-stream' }));
  });

  it('holds at most maxStreams: the oldest goes first, and its live readers end with incomplete-stream', () => {
    const store = memoryResumeStore({ maxStreams: 2 });
    store.claim('a');
    store.append('a', [event(1)]);
    let error: unknown;
    const seen: ResumeEvent[] = [];
    store.read('a', 0).subscribe({ next: (e) => seen.push(e), error: (e: unknown) => (error = e) });
    store.claim('b');
    store.claim('c');
    expect(store.size()).toBe(2);
    expect(seen).toEqual([event(1)]);
    expect(error).toMatchObject({ code: 'incomplete-stream' });
    expect(store.claim('b')).toBe(false);
    expect(store.claim('a')).toBe(true);
  });

  it('bad options → invalid-config', () => {
    for (const config of [{ ttl: 0 }, { ttl: 1.5 }, { maxStreams: -1 }, { scheduler: {} }, { unknown: 1 }]) {
      expect(() => memoryResumeStore(config as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    }
  });
});
