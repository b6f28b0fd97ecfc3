import { mergeMap, Observable, of, repeat, retry, Subject, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createInFlightRegistry } from '../../src/cache/InFlightRegistry';
import { createTestScheduler } from '../helpers/marbles';

describe('createInFlightRegistry', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  it('shares one upstream between overlapping callers and replays to late joiners', () => {
    const registry = createInFlightRegistry();
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const upstream = cold('    --a--b--|');
      const upstreamSubs = '     ^-------!';
      const callerA = hot('      x|       ');
      const expectedA = '        --a--b--|';
      const callerB = hot('      ----x|   ');
      const expectedB = '        ----ab--|';

      const join = () => registry.join('req-1', () => upstream);

      expectObservable(callerA.pipe(mergeMap(join))).toBe(expectedA);
      expectObservable(callerB.pipe(mergeMap(join))).toBe(expectedB);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(registry.size).toBe(0);
  });

  it('unsubscribes upstream only when the last caller leaves', () => {
    const registry = createInFlightRegistry();
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('  --a--b--|');
      const upstreamSubs = '   ^---!    ';

      expectObservable(registry.join('req-1', () => upstream), '^--!').toBe('--a');
      expectObservable(registry.join('req-1', () => upstream), '^---!').toBe('--a-');
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(registry.size).toBe(0);
  });

  it('sends an error to every current caller, and the next caller starts fresh', () => {
    const registry = createInFlightRegistry();
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const upstream = cold('    --a--#          ');
      const upstreamSubs = [
        '                        ^----!          ',
        '                        -------^----!   ',
      ];
      const callerA = hot('      x|              ');
      const expectedA = '        --a--#          ';
      const callerB = hot('      ---x|           ');
      const expectedB = '        ---a-#          ';
      const callerC = hot('      -------x|       ');
      const expectedC = '        ---------a--#   ';

      const join = () => registry.join('req-1', () => upstream);

      expectObservable(callerA.pipe(mergeMap(join))).toBe(expectedA);
      expectObservable(callerB.pipe(mergeMap(join))).toBe(expectedB);
      expectObservable(callerC.pipe(mergeMap(join))).toBe(expectedC);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(registry.size).toBe(0);
  });

  it('a finished run leaves the registry: the next caller starts a new one', () => {
    const registry = createInFlightRegistry();
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const upstream = cold('    -a|      ');
      const upstreamSubs = ['    ^-!      ', '     -----^-!'];
      const callers = hot('      x----x|  ');
      const expected = '         -a----a| ';

      expectObservable(callers.pipe(mergeMap(() => registry.join('k', () => upstream)))).toBe(expected);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(registry.size).toBe(0);
  });

  it('keeps different keys apart', () => {
    const registry = createInFlightRegistry();
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('   --a|');
      const firstSubs = '    ^--!';
      const second = cold('  --b|');
      const secondSubs = '   ^--!';

      expectObservable(registry.join('one', () => first)).toBe('--a|');
      expectObservable(registry.join('two', () => second)).toBe('--b|');
      expectSubscriptions(first.subscriptions).toBe(firstSubs);
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
    });
  });

  it('is cold: join() starts nothing until subscribed, and tracks what is in flight', () => {
    const registry = createInFlightRegistry();
    let starts = 0;
    const joined = registry.join('k', () => {
      starts++;
      return new Observable<number>(() => undefined);
    });
    expect(starts).toBe(0);
    expect(registry.has('k')).toBe(false);
    const one = joined.subscribe();
    const two = registry.join('k', () => of(99)).subscribe();
    expect(starts).toBe(1);
    expect(registry.has('k')).toBe(true);
    expect(registry.size).toBe(1);
    one.unsubscribe();
    expect(registry.size).toBe(1);
    two.unsubscribe();
    expect(registry.size).toBe(0);
  });

  it('a caller that re-subscribes from its complete handler (repeat) starts a new run, not the finished one', () => {
    const registry = createInFlightRegistry();
    let starts = 0;
    const values: number[] = [];
    registry
      .join('k', () => {
        starts++;
        return of(starts);
      })
      .pipe(repeat(3))
      .subscribe((value) => values.push(value));
    expect(values).toEqual([1, 2, 3]);
    expect(registry.size).toBe(0);
  });

  it('a caller that retries from its error handler starts a new run', () => {
    const registry = createInFlightRegistry();
    let starts = 0;
    const values: string[] = [];
    registry
      .join('k', () => {
        starts++;
        return new Observable<string>((subscriber) => {
          if (starts < 3) subscriber.error(new Error(`attempt ${starts}`));
          else subscriber.next('ok');
          subscriber.complete();
        });
      })
      .pipe(retry(5), take(1))
      .subscribe((value) => values.push(value));
    expect(values).toEqual(['ok']);
    expect(starts).toBe(3);
    expect(registry.size).toBe(0);
  });

  it('a throw from start() errors the caller and leaves no entry behind', () => {
    const registry = createInFlightRegistry();
    const errors: unknown[] = [];
    registry
      .join('k', () => {
        throw new Error('cannot start');
      })
      .subscribe({ error: (error: unknown) => errors.push(error) });
    expect(errors).toEqual([new Error('cannot start')]);
    expect(registry.size).toBe(0);
  });

  it('a caller that leaves a synchronous run early (take(1)) ends it: the source is unsubscribed, the entry gone, and the next caller starts fresh', () => {
    const registry = createInFlightRegistry();
    let teardowns = 0;
    let starts = 0;
    const source = () =>
      new Observable<string>((subscriber) => {
        starts++;
        subscriber.next('a');
        subscriber.next('b');
        return () => teardowns++;
      });
    const first: string[] = [];
    registry.join('k', source).pipe(take(1)).subscribe((value) => first.push(value));
    expect(first).toEqual(['a']);
    expect(teardowns).toBe(1);
    expect(registry.size).toBe(0);
    const second: string[] = [];
    const subscription = registry.join('k', source).subscribe((value) => second.push(value));
    expect(second).toEqual(['a', 'b']);
    expect(starts).toBe(2);
    subscription.unsubscribe();
    expect(teardowns).toBe(2);
  });

  it('gives each caller every value once, in order, whether it joined before or during the run', () => {
    const registry = createInFlightRegistry();
    const source = new Subject<number>();
    const early: number[] = [];
    const late: number[] = [];
    registry.join('k', () => source).subscribe((value) => early.push(value));
    source.next(1);
    source.next(2);
    registry.join('k', () => source).subscribe((value) => late.push(value));
    source.next(3);
    source.complete();
    expect(early).toEqual([1, 2, 3]);
    expect(late).toEqual([1, 2, 3]);
    expect(registry.size).toBe(0);
  });
});
