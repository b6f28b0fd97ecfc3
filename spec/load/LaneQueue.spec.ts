import { LaneQueue } from '../../src/load/LaneQueue';

const entry = (name: string, lane: number, enqueuedAt: number) => ({ name, lane, enqueuedAt });

describe('LaneQueue', () => {
  it('takes the best lane first and keeps arrival order within a lane', () => {
    const queue = new LaneQueue<ReturnType<typeof entry>>(3, 1000);
    for (const e of [entry('c1', 2, 0), entry('a1', 0, 1), entry('b1', 1, 2), entry('a2', 0, 3)]) queue.push(e);
    expect([1, 2, 3, 4, 5].map(() => queue.shift(10)?.name)).toEqual(['a1', 'a2', 'b1', 'c1', undefined]);
    expect(queue.size).toBe(0);
  });

  it('gives one take in four to a lower-lane entry that has waited agingMs, the longest waiting first', () => {
    const queue = new LaneQueue<ReturnType<typeof entry>>(3, 100);
    queue.push(entry('low', 2, 0));
    queue.push(entry('mid', 1, 50));
    for (let i = 0; i < 6; i++) queue.push(entry(`top${i}`, 0, 60 + i));
    expect(queue.shift(99)?.name).toBe('top0'); // nothing has waited 100 ms yet
    const order = [1, 2, 3, 4, 5, 6, 7].map(() => queue.shift(200)?.name);
    // low and mid are both starving; three takes follow priority, the fourth goes to the longest waiting.
    expect(order).toEqual(['top1', 'top2', 'top3', 'low', 'top4', 'top5', 'mid']);
  });

  it('removes an entry from the middle of a lane in place', () => {
    const queue = new LaneQueue<ReturnType<typeof entry>>(2, 1000);
    const [x, y, z] = [entry('x', 1, 0), entry('y', 1, 1), entry('z', 1, 2)];
    [x, y, z].forEach((e) => queue.push(e));
    expect(queue.remove(y)).toBe(true);
    expect(queue.remove(y)).toBe(false);
    expect([queue.size, queue.sizeOf(1), queue.sizeOf(0)]).toEqual([2, 2, 0]);
    expect([queue.shift(5)?.name, queue.shift(5)?.name]).toEqual(['x', 'z']);
  });

  it('takes from the first lanes only when told, and the share counts only takes where the starving lane was open', () => {
    const queue = new LaneQueue<ReturnType<typeof entry>>(2, 100);
    queue.push(entry('low', 1, 0));
    for (let i = 0; i < 5; i++) queue.push(entry(`top${i}`, 0, 10 + i));
    expect([queue.sizeThrough(0), queue.sizeThrough(1)]).toEqual([5, 6]);
    // low is starving, but its lane is closed: these takes do not count towards its share.
    expect([queue.shift(500, 1)?.name, queue.shift(500, 1)?.name, queue.shift(500, 1)?.name]).toEqual(['top0', 'top1', 'top2']);
    expect([queue.shift(500)?.name, queue.shift(500)?.name, queue.shift(500)?.name]).toEqual(['top3', 'top4', 'low']);
    expect(queue.shift(500, 0)).toBeUndefined();
  });

  it('peeks at the entry shift would take without taking it or moving the anti-starvation count', () => {
    const queue = new LaneQueue<ReturnType<typeof entry>>(2, 100);
    queue.push(entry('low', 1, 0));
    for (let i = 0; i < 4; i++) queue.push(entry(`top${i}`, 0, 10 + i));
    // Peeking many times changes nothing: the share still gives the fourth take to low.
    for (let i = 0; i < 5; i++) expect(queue.peek(500)?.name).toBe('top0');
    expect(queue.size).toBe(5);
    expect([1, 2, 3].map(() => queue.shift(500)?.name)).toEqual(['top0', 'top1', 'top2']);
    expect(queue.peek(500)?.name).toBe('low');
    expect(queue.peek(500, 0)).toBeUndefined();
  });
});
