import { createRng } from '../../src/simulator/prng';
import { countTokens, tokenize } from '../../src/simulator/tokenize';

describe('tokenize', () => {
  it.each([
    'Hello, world!',
    '  leading and trailing spaces  ',
    'internationalization is a long word; 1234567 is a long number.',
    'Ünïcödé wörds, emoji 🎉 and {"json": [1, 2]}\n\nnew paragraph\n',
    '',
  ])('splits %j into pieces that join back to it', (text) => {
    const pieces = tokenize(text);
    expect(pieces.join('')).toBe(text);
    expect(countTokens(text)).toBe(pieces.length);
    for (const piece of pieces) expect(piece.length).toBeGreaterThan(0);
  });

  it('makes word-sized pieces with the leading space attached', () => {
    expect(tokenize('The cat sat.')).toEqual(['The', ' cat', ' sat', '.']);
    expect(tokenize('internationalization')).toEqual(['intern', 'ationalization'.slice(0, 6), 'lization']);
    expect(tokenize('12345')).toEqual(['123', '45']);
  });

  it('splits exactly as the regex it replaces, on random mixed-script text', () => {
    const regex = /\s*(?:\p{L}{1,10}(?!\p{L})|\p{L}{1,6}|\p{N}{1,3}|[^\s\p{L}\p{N}])|\s+/gu;
    const alphabet = ['a', 'B', 'é', 'ß', 'Ж', '中', '1', '٣', ' ', '\n', '\t', '\u00a0', '\u2003', '.', ',', '{', '"', '🎉', '𝒜', '\u0301', 'x', 'q'];
    const rng = createRng('tokenize');
    for (let n = 0; n < 2000; n++) {
      let text = '';
      for (let i = rng.int(30); i > 0; i--) text += rng.pick(alphabet).repeat(1 + rng.int(rng.next() < 0.2 ? 14 : 3));
      expect(tokenize(text)).toEqual(text.match(regex) ?? []);
    }
  });
});
