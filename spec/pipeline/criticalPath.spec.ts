import { criticalPath, type TimelineEntry } from '../../src/pipeline/criticalPath';

const bar = (node: string, after: string[], startedAt: number, endedAt?: number): TimelineEntry => ({
  node,
  after,
  status: endedAt === undefined ? 'streaming' : 'done',
  startedAt,
  ...(endedAt === undefined ? {} : { endedAt }),
});

describe('criticalPath', () => {
  it('follows the last-ending node back through the input it waited longest for', () => {
    expect(
      criticalPath([
        bar('classify', [], 0, 300),
        bar('summary', [], 0, 900),
        bar('draft', ['classify'], 300, 500),
        bar('reply', ['draft', 'summary'], 900, 1000),
      ]),
    ).toEqual(['summary', 'reply']);
  });

  it('follows a longer chain when it is the slow one', () => {
    expect(
      criticalPath([
        bar('a', [], 0, 100),
        bar('b', ['a'], 100, 700),
        bar('c', [], 0, 400),
        bar('d', ['b', 'c'], 700, 750),
      ]),
    ).toEqual(['a', 'b', 'd']);
  });

  it('is the slowest entry alone when nothing waits for anything (a parallel group)', () => {
    expect(criticalPath([bar('sentiment', [], 0, 300), bar('summary', [], 0, 900), bar('keywords', [], 0, 600)])).toEqual([
      'summary',
    ]);
  });

  it('ignores entries that have not ended, and breaks ties by listing order', () => {
    expect(criticalPath([bar('a', [], 0, 100), bar('b', [], 0, 100), bar('c', ['a', 'b'], 100)])).toEqual(['a']);
    expect(criticalPath([bar('a', [], 0)])).toEqual([]);
  });

  it('cannot loop on a malformed, cyclic timeline', () => {
    expect(criticalPath([bar('a', ['b'], 0, 100), bar('b', ['a'], 0, 50)])).toEqual(['b', 'a']);
  });
});
