// The CLI's one way of writing to a terminal: a live line that is redrawn in place and never wraps,
// static lines above it, and the width and colour decided once from the stream and the environment.

/** The stream a {@link Terminal} writes to: `process.stdout`, or a test's capture. */
export interface TerminalStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A terminal as the CLI sees it. */
export interface Terminal {
  /** The width lines are cut or wrapped to: the terminal's, else `COLUMNS`, else 80. */
  readonly columns: number;
  /** Whether to paint with ANSI colours: `FORCE_COLOR` and `NO_COLOR` first, else only on a TTY. */
  readonly color: boolean;
  /** Whether a live line is drawn at all: only on a TTY (piped output and logs never get one). */
  readonly live: boolean;
  /** Redraws the live line in place, cut to one row with an ellipsis; nothing off a TTY. */
  status(line: string): void;
  /** Writes a static line (or several) above the live line, which is cleared first. */
  line(text?: string): void;
  /** Clears the live line, if one is drawn. */
  clear(): void;
}

/** The width of a terminal that says nothing about itself: the classic 80 columns. */
export const DEFAULT_COLUMNS = 80;

/**
 * A {@link Terminal} over `stream`. Width: the TTY's own `columns`, else a positive integer
 * `COLUMNS`, else 80. Colour: `NO_COLOR` (any non-empty value) turns it off, `FORCE_COLOR` (any
 * value but `0` or `false`) on even when piped, else colour only on a TTY. The live line is
 * cut to `columns - 1` display columns, so the cursor never reaches the last column and the
 * terminal never wraps it: `\r` + erase-line then redraws the one row, and the scrollback keeps
 * no copies of it.
 */
export function terminal(stream: TerminalStream, env: Record<string, string | undefined>): Terminal {
  const tty = stream.isTTY === true;
  const fromEnv = Number(env['COLUMNS']);
  const columns = tty && stream.columns && stream.columns > 0 ? stream.columns : Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_COLUMNS;
  const force = env['FORCE_COLOR'];
  const color = env['NO_COLOR'] ? false : force !== undefined && force !== '0' && force !== 'false' ? true : tty;
  let shown = false;
  const clear = () => {
    if (shown) stream.write('\r\x1b[K');
    shown = false;
  };
  return {
    columns,
    color,
    live: tty,
    status(line) {
      if (!tty) return;
      stream.write(`\r\x1b[K${fitWidth(line.replace(/[\r\n]+/g, ' '), Math.max(1, columns - 1))}`);
      shown = true;
    },
    line(text = '') {
      clear();
      stream.write(`${text}\n`);
    },
    clear,
  };
}

// ANSI escape sequences (colours, erase-line): no width on screen.
const ESCAPE = /\u001b\[[0-9;?]*[A-Za-z]/y;

/**
 * How many terminal columns `text` takes: ANSI escapes and combining marks none, East Asian wide
 * characters and emoji two, everything else (including ▸ ✓ … and box drawing) one.
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const piece of pieces(text)) width += piece.width;
  return width;
}

/** `text` cut to at most `width` display columns, ending in `…` when it was cut. Escapes are kept, and reset when cut. */
export function fitWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let used = 0;
  let painted = false;
  for (const piece of pieces(text)) {
    if (piece.width === 0) {
      if (piece.text.startsWith('\u001b')) painted = true;
      out += piece.text;
      continue;
    }
    if (used + piece.width > width - 1) break;
    out += piece.text;
    used += piece.width;
  }
  return `${out}${width >= 1 ? '…' : ''}${painted ? '\u001b[0m' : ''}`;
}

/**
 * `text` broken at spaces into lines of at most `width` display columns: the first keeps the
 * text's own leading spaces, every later one starts with `indent` (by default those spaces and
 * two more). A word longer than a line is cut with {@link fitWidth}.
 */
export function wrapText(text: string, width: number, indent?: string): string[] {
  const lead = /^ */.exec(text)![0];
  indent ??= `${lead}  `;
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const prefix = lines.length === 0 ? lead : indent;
    const candidate = current ? `${current} ${word}` : `${prefix}${word}`;
    if (displayWidth(candidate) <= width || !current) current = fitWidth(candidate, width);
    else {
      lines.push(current);
      current = fitWidth(`${indent}${word}`, width);
    }
  }
  if (current || lines.length === 0) lines.push(current);
  return lines;
}

function* pieces(text: string): Generator<{ text: string; width: number }> {
  let index = 0;
  while (index < text.length) {
    ESCAPE.lastIndex = index;
    const escape = ESCAPE.exec(text);
    if (escape) {
      yield { text: escape[0], width: 0 };
      index += escape[0].length;
      continue;
    }
    const point = text.codePointAt(index)!;
    const char = String.fromCodePoint(point);
    index += char.length;
    yield { text: char, width: charWidth(point, char) };
  }
}

function charWidth(point: number, char: string): number {
  if (point < 0x20 || (point >= 0x7f && point < 0xa0)) return 0;
  if (/\p{Mn}|\p{Me}|\p{Cf}/u.test(char) || (point >= 0xfe00 && point <= 0xfe0f)) return 0;
  if (
    (point >= 0x1100 && point <= 0x115f) ||
    (point >= 0x2e80 && point <= 0xa4cf && point !== 0x303f) ||
    (point >= 0xac00 && point <= 0xd7a3) ||
    (point >= 0xf900 && point <= 0xfaff) ||
    (point >= 0xfe30 && point <= 0xfe4f) ||
    (point >= 0xff00 && point <= 0xff60) ||
    (point >= 0xffe0 && point <= 0xffe6) ||
    (point >= 0x1f300 && point <= 0x1f64f) ||
    (point >= 0x1f900 && point <= 0x1f9ff) ||
    (point >= 0x20000 && point <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}
