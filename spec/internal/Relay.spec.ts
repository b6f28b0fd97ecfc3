import { config, Observable, Subject, type Subscriber } from 'rxjs';
import { Relay } from '../../src/internal/Relay';

class Doubler extends Relay<number, number> {
  next(value: number): void {
    if (!this.closed) this.destination.next(value * 2);
  }
}

const doubled = (source: Observable<number>) => new Observable<number>((subscriber: Subscriber<number>) => source.subscribe(new Doubler(subscriber)));

describe('Relay', () => {
  it('is taken by subscribe as the subscriber itself: values, then completion, reach the destination', () => {
    const seen: unknown[] = [];
    doubled(new Observable<number>((s) => (s.next(1), s.next(2), s.complete()))).subscribe({
      next: (v) => seen.push(v),
      complete: () => seen.push('done'),
    });
    expect(seen).toEqual([2, 4, 'done']);
  });

  it('closes before passing an error on (the source is torn down), and delivers nothing after it', () => {
    const seen: unknown[] = [];
    let tornDown = false;
    const source = new Observable<number>((s) => {
      s.next(1);
      s.error(new Error('boom'));
      s.next(2);
      s.complete();
      return () => {
        tornDown = true;
      };
    });
    doubled(source).subscribe({ next: (v) => seen.push(v), error: (e: Error) => seen.push(e.message), complete: () => seen.push('done') });
    expect(seen).toEqual([2, 'boom']);
    expect(tornDown).toBe(true);
  });

  it('tears the source down on completion before the destination completes', () => {
    const order: string[] = [];
    let end = (): void => undefined;
    const source = new Observable<number>((s) => {
      end = () => s.complete();
      return () => order.push('source torn down');
    });
    doubled(source).subscribe({ complete: () => order.push('complete') });
    end();
    expect(order).toEqual(['source torn down', 'complete']);
  });

  it('unsubscribing the outside unsubscribes the source and stops delivery', () => {
    const subject = new Subject<number>();
    const seen: number[] = [];
    const subscription = doubled(subject).subscribe((v) => seen.push(v));
    subject.next(1);
    expect(subject.observed).toBe(true);
    subscription.unsubscribe();
    expect(subject.observed).toBe(false);
    subject.next(2);
    expect(seen).toEqual([2]);
  });

  it('passes the end on when the source\'s teardown throws, and reports the teardown\'s error as unhandled', async () => {
    const reported: unknown[] = [];
    const before = config.onUnhandledError;
    config.onUnhandledError = (error) => reported.push(error);
    try {
      const seen: unknown[] = [];
      const source = new Observable<number>((s) => {
        setTimeout(() => {
          s.next(1);
          s.complete();
        });
        return () => {
          throw new Error('teardown broke');
        };
      });
      await new Promise<void>((resolve) =>
        doubled(source).subscribe({
          next: (v) => seen.push(v),
          complete: () => {
            seen.push('done');
            resolve();
          },
        }),
      );
      expect(seen).toEqual([2, 'done']);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(reported).toHaveLength(1);
      expect(String(reported[0])).toContain('teardown broke');
    } finally {
      config.onUnhandledError = before;
    }
  });
});
