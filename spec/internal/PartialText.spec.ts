import { PartialText } from '../../src/internal/PartialText';
import type { LlmEvent } from '../../src/core/events';

describe('PartialText', () => {
  it('keeps the text of choice 0, and says whether it grew', () => {
    const partial = new PartialText();
    const grew = (event: LlmEvent) => partial.add(event);

    expect(grew({ type: 'text', choice: 0, text: 'Hel' })).toBe(true);
    expect(grew({ type: 'text', choice: 1, text: 'other choice' })).toBe(false);
    expect(grew({ type: 'text', choice: 0, text: '' })).toBe(false);
    expect(grew({ type: 'reasoning', choice: 0, text: 'thinking' })).toBe(false);
    expect(grew({ type: 'text', choice: 0, text: 'lo' })).toBe(true);

    expect(partial.text).toBe('Hello');
  });

  it('counts any content, of any choice, as emitted; usage and finish are not content', () => {
    const none = new PartialText();
    none.add({ type: 'finish', choice: 0, reason: 'stop' });
    none.add({ type: 'usage', choice: 0, usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 } });
    expect(none.tokensEmitted).toBe(false);
    expect(none.errorDetails()).toEqual({ tokensEmitted: false });

    const toolCall = new PartialText();
    toolCall.add({ type: 'tool-call', choice: 1, callIndex: 0, arguments: '{' });
    expect(toolCall.tokensEmitted).toBe(true);
    expect(toolCall.errorDetails()).toEqual({ tokensEmitted: true }); // no text: no partialText field
  });

  it('keeps the text of the choice it was made for', () => {
    const second = new PartialText(1);
    expect(second.add({ type: 'text', choice: 0, text: 'first choice' })).toBe(false);
    expect(second.add({ type: 'text', choice: 1, text: 'Bon' })).toBe(true);
    expect(second.add({ type: 'text', choice: 1, text: 'jour' })).toBe(true);
    expect(second.text).toBe('Bonjour');
    // Any choice's content still counts as emitted.
    expect(new PartialText(1).add({ type: 'text', choice: 0, text: 'x' })).toBe(false);
  });

  it('gives an error its partialText and tokensEmitted', () => {
    const partial = new PartialText();
    partial.add({ type: 'text', choice: 0, text: 'Hello' });
    expect(partial.errorDetails()).toEqual({ partialText: 'Hello', tokensEmitted: true });
  });
});

describe('PartialText text storage (flat blocks of deltas)', () => {
  const text = (delta: string): LlmEvent => ({ type: 'text', choice: 0, text: delta });

  /** Adds every delta, reading the text after each when `readEvery`; returns every reading and the final text. */
  const feed = (deltas: readonly string[], readEvery: (index: number) => boolean) => {
    const partial = new PartialText();
    const readings: Array<{ index: number; text: string }> = [];
    deltas.forEach((delta, index) => {
      partial.add(text(delta));
      if (readEvery(index)) readings.push({ index, text: partial.text });
    });
    return { partial, readings };
  };
  const prefix = (deltas: readonly string[], index: number) => deltas.slice(0, index + 1).join('');

  it.each([1, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100])('keeps %i deltas in order, read after every one or only at the end', (count) => {
    const deltas = Array.from({ length: count }, (_, i) => `<${i}>`);
    const everyToken = feed(deltas, () => true);
    everyToken.readings.forEach(({ index, text }) => expect(text).toBe(prefix(deltas, index)));
    expect(everyToken.partial.text).toBe(deltas.join(''));
    expect(feed(deltas, () => false).partial.text).toBe(deltas.join(''));
  });

  it('gives back, after 2,000 more deltas, what each earlier reading said (readings never change)', () => {
    const deltas = Array.from({ length: 2_100 }, (_, i) => ` w${i}`);
    const { partial, readings } = feed(deltas, (i) => i % 7 === 0 || i === 10);
    expect(readings.find((reading) => reading.index === 10)?.text).toBe(prefix(deltas, 10));
    for (const { index, text } of readings) expect(text).toBe(prefix(deltas, index));
    expect(partial.text).toBe(deltas.join(''));
    // Reading twice with nothing added in between gives the same string.
    expect(partial.text).toBe(partial.text);
  });

  it('ignores empty deltas, other choices and non-text events without moving a block boundary', () => {
    const partial = new PartialText();
    const expected: string[] = [];
    for (let i = 0; i < 40; i++) {
      expect(partial.add(text(''))).toBe(false);
      expect(partial.add({ type: 'text', choice: 1, text: 'x' })).toBe(false);
      expect(partial.add({ type: 'reasoning', choice: 0, text: 'y' })).toBe(false);
      expect(partial.add(text(`${i},`))).toBe(true);
      expected.push(`${i},`);
      if (i % 5 === 0) expect(partial.text).toBe(expected.join(''));
    }
    expect(partial.text).toBe(expected.join(''));
    expect(partial.errorDetails()).toEqual({ partialText: expected.join(''), tokensEmitted: true });
  });

  it('keeps a surrogate pair split across two deltas whole, wherever the block boundary falls', () => {
    const [high, low] = ['\ud83d', '\ude00']; // 😀
    for (let at = 0; at < 70; at++) {
      const deltas = [...Array.from({ length: at }, () => 'a'), `b${high}`, `${low}c`, high, low, 'é中'];
      for (const readEvery of [() => true, () => false]) {
        const { partial } = feed(deltas, readEvery);
        expect(partial.text).toBe(`${'a'.repeat(at)}b😀c😀é中`);
        expect([...partial.text].filter((char) => char === '😀')).toHaveLength(2);
      }
    }
  });

  it('takes a very long delta between short ones, and many long ones in a row', () => {
    const long = 'L'.repeat(100_000);
    const deltas = ['a', 'b', long, 'c', ...Array.from({ length: 20 }, (_, i) => `${i}`.repeat(300)), 'd'];
    const { partial, readings } = feed(deltas, (i) => i % 2 === 0);
    for (const { index, text } of readings) expect(text).toBe(prefix(deltas, index));
    expect(partial.text).toBe(deltas.join(''));
    expect(partial.text.length).toBe(deltas.reduce((sum, delta) => sum + delta.length, 0));
  });

  it('matches plain concatenation for random deltas (lengths 0..400, one- and two-byte) read at random', () => {
    let seed = 15;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
    const alphabet = ['a', ' ', 'é', '中', '\ud83d', '\ude00', '\n'];
    for (let round = 0; round < 20; round++) {
      const partial = new PartialText();
      let expected = '';
      const readings: Array<[string, string]> = [];
      const count = Math.floor(random() * 300);
      for (let i = 0; i < count; i++) {
        const length = random() < 0.05 ? Math.floor(random() * 400) : Math.floor(random() * 6);
        let delta = '';
        for (let c = 0; c < length; c++) delta += alphabet[Math.floor(random() * alphabet.length)];
        expect(partial.add(text(delta))).toBe(delta !== '');
        expected += delta;
        if (random() < 0.3) readings.push([partial.text, expected]);
      }
      for (const [reading, then] of readings) expect(reading).toBe(then);
      expect(partial.text).toBe(expected);
    }
  });
});
