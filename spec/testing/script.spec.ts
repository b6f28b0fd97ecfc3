import { finishEvent, textEvent } from '../../src/testing/events';
import { compileScript, textScript } from '../../src/testing/script';

describe('compileScript', () => {
  it('turns timed steps into events and ends with completion at the last step', () => {
    expect(compileScript([{ at: 300, text: 'Hel' }, { at: 310, text: 'lo', choice: 1 }, { at: 320, finish: 'stop' }], 'test')).toEqual([
      { at: 300, kind: 'event', event: textEvent('Hel') },
      { at: 310, kind: 'event', event: textEvent('lo', { choice: 1 }) },
      { at: 320, kind: 'event', event: finishEvent('stop') },
      { at: 320, kind: 'complete' },
    ]);
  });

  it('ends with the error instead when the last step is one', () => {
    expect(compileScript([{ at: 5, error: 'server', details: { status: 503 } }], 'test')).toEqual([
      { at: 5, kind: 'error', error: 'server', details: { status: 503 } },
    ]);
  });

  it('completes an empty script at once', () => {
    expect(compileScript([], 'test')).toEqual([{ at: 0, kind: 'complete' }]);
  });

  it('reads marbles in milliseconds, inside or outside TestScheduler.run(), and stops at the end', () => {
    const values = { a: textEvent('Hel'), f: finishEvent() };

    expect(compileScript({ marbles: '300ms a-- 9ms (f|) a', values }, 'test')).toEqual([
      { at: 300, kind: 'event', event: values.a },
      { at: 312, kind: 'event', event: values.f },
      { at: 312, kind: 'complete' },
    ]);
    expect(compileScript({ marbles: '-a #', values, error: 'rate-limited' }, 'test')).toEqual([
      { at: 1, kind: 'event', event: values.a },
      { at: 2, kind: 'error', error: 'rate-limited' },
    ]);
  });

  it('wraps a marble syntax error as invalid-config', () => {
    expect(() => compileScript({ marbles: 'a!' }, 'test')).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringMatching(/^scriptedTransport: test: marbles "a!" do not parse: /) }),
    );
  });
});

describe('textScript', () => {
  it('streams the text word by word and finishes with the last word', () => {
    expect(textScript('Hello brave  world', { at: 300, every: 20 })).toEqual([
      { at: 300, text: 'Hello ' },
      { at: 320, text: 'brave  ' },
      { at: 340, text: 'world' },
      { at: 340, finish: 'stop' },
    ]);
  });

  it('puts everything at 0 by default and takes another finish reason', () => {
    expect(textScript('Hi there', { finish: 'length' })).toEqual([
      { at: 0, text: 'Hi ' },
      { at: 0, text: 'there' },
      { at: 0, finish: 'length' },
    ]);
    expect(textScript('')).toEqual([{ at: 0, finish: 'stop' }]);
  });
});
