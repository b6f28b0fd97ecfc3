// A BPE-like split: a word with its leading whitespace is one token (words over 10
// letters are cut into 6-letter pieces), numbers go in groups of up to 3 digits, and
// each other symbol is its own token; trailing whitespace is a token of its own. The
// pieces always join back to the input.
//
// The same rule as the regex /\s*(?:\p{L}{1,10}(?!\p{L})|\p{L}{1,6}|\p{N}{1,3}|[^\s\p{L}\p{N}])|\s+/gu,
// scanned by hand because the simulator server tokenizes every answer it plans and the
// Unicode-class regex was its hottest function.

const LETTER = /\p{L}/u;
const NUMBER = /\p{N}/u;
const SPACE = /\s/;

/** Splits text into token-sized pieces that join back to exactly the text. */
export function tokenize(text: string): string[] {
  const pieces: string[] = [];
  scan(text, (start, end) => pieces.push(text.slice(start, end)));
  return pieces;
}

/** How many tokens {@link tokenize} makes of a text. */
export function countTokens(text: string): number {
  let count = 0;
  scan(text, () => count++);
  return count;
}

function scan(text: string, emit: (start: number, end: number) => void): void {
  const length = text.length;
  let at = 0;
  while (at < length) {
    let begin = at;
    while (begin < length && isSpace(text.charCodeAt(begin))) begin++;
    if (begin === length) {
      emit(at, length);
      return;
    }
    const kind = classify(text, begin);
    let end: number;
    if (kind === LETTER_KIND) {
      let letters = 0;
      let cursor = begin;
      while (cursor < length && letters <= 10 && classify(text, cursor) === LETTER_KIND) {
        cursor += unitLength(text, cursor);
        letters++;
      }
      end = letters <= 10 ? cursor : advance(text, begin, 6);
    } else if (kind === NUMBER_KIND) {
      let digits = 0;
      end = begin;
      while (end < length && digits < 3 && classify(text, end) === NUMBER_KIND) {
        end += unitLength(text, end);
        digits++;
      }
    } else end = begin + unitLength(text, begin);
    emit(at, end);
    at = end;
  }
}

const LETTER_KIND = 1;
const NUMBER_KIND = 2;
const OTHER_KIND = 3;

function classify(text: string, at: number): number {
  const code = text.charCodeAt(at);
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return LETTER_KIND;
  if (code >= 48 && code <= 57) return NUMBER_KIND;
  if (code < 128) return OTHER_KIND;
  const char = String.fromCodePoint(text.codePointAt(at)!);
  if (LETTER.test(char)) return LETTER_KIND;
  if (NUMBER.test(char)) return NUMBER_KIND;
  return isSpace(code) ? 0 : OTHER_KIND;
}

function isSpace(code: number): boolean {
  if (code === 32 || (code >= 9 && code <= 13)) return true;
  return code >= 128 && SPACE.test(String.fromCharCode(code));
}

/** UTF-16 units of the code point at `at` (2 for a surrogate pair). */
function unitLength(text: string, at: number): number {
  const code = text.charCodeAt(at);
  return code >= 0xd800 && code <= 0xdbff && at + 1 < text.length ? 2 : 1;
}

function advance(text: string, at: number, codePoints: number): number {
  let cursor = at;
  for (let i = 0; i < codePoints; i++) cursor += unitLength(text, cursor);
  return cursor;
}
