import { displayWidth, fitWidth, terminal, wrapText } from '../../src/cli/terminal';

function stream(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { chunks, stream: { write: (chunk: string) => chunks.push(chunk), isTTY, ...(columns === undefined ? {} : { columns }) } };
}

describe('displayWidth', () => {
  it('counts the demo glyphs as one column, wide characters as two, escapes and combining marks as none', () => {
    expect(displayWidth('▸ ✓ … ─┬░█◆')).toBe(11);
    expect(displayWidth('\u001b[36mabc\u001b[0m')).toBe(3);
    expect(displayWidth('日本')).toBe(4);
    expect(displayWidth('e\u0301')).toBe(1);
  });
});

describe('fitWidth', () => {
  it('leaves a line that fits alone and cuts a longer one to exactly the width, ending in an ellipsis', () => {
    expect(fitWidth('summary ▸ short', 20)).toBe('summary ▸ short');
    const cut = fitWidth('keywords ▸ {"keywords":["speakers","battery"]}', 20);
    expect(cut).toBe('keywords ▸ {"keywor…');
    expect(displayWidth(cut)).toBe(20);
    expect(displayWidth(fitWidth('日本語のテキストです', 7))).toBeLessThanOrEqual(7);
  });

  it('keeps colour escapes and resets the colour when it cuts', () => {
    expect(fitWidth('\u001b[36mabcdef\u001b[0m', 4)).toBe('\u001b[36mabc…\u001b[0m');
  });
});

describe('wrapText', () => {
  it('breaks at spaces within the width, continuing under the first line with two more spaces', () => {
    const lines = wrapText('   one two three four five six seven', 16);
    expect(lines).toEqual(['   one two three', '     four five', '     six seven']);
    for (const line of lines) expect(displayWidth(line)).toBeLessThanOrEqual(16);
  });
});

describe('terminal', () => {
  it('on a TTY: its width, colour, and a live line cut below the last column and redrawn in place', () => {
    const { chunks, stream: tty } = stream(true, 30);
    const screen = terminal(tty, {});
    expect(screen).toMatchObject({ columns: 30, color: true, live: true });
    screen.status('3. parallel with streaming · text 1/3 · summary ▸ The new laptop is fast');
    expect(chunks[0]!.startsWith('\r\u001b[K')).toBe(true);
    // 29 columns: the cursor stops before the last column, so the terminal never wraps the line.
    expect(displayWidth(chunks[0]!)).toBe(29);
    screen.line('done');
    expect(chunks.slice(1)).toEqual(['\r\u001b[K', 'done\n']);
    screen.line('next');
    expect(chunks.slice(3)).toEqual(['next\n']); // nothing to clear
  });

  it('piped: no live line at all, COLUMNS for the width, no colour', () => {
    const { chunks, stream: pipe } = stream(false);
    const screen = terminal(pipe, { COLUMNS: '100' });
    expect(screen).toMatchObject({ columns: 100, color: false, live: false });
    screen.status('progress');
    screen.clear();
    screen.line('report');
    expect(chunks).toEqual(['report\n']);
    expect(terminal(pipe, { COLUMNS: 'wide' }).columns).toBe(80);
    expect(terminal(pipe, {}).columns).toBe(80);
  });

  it('NO_COLOR turns colour off on a TTY; FORCE_COLOR turns it on when piped, unless 0 or false', () => {
    expect(terminal(stream(true, 80).stream, { NO_COLOR: '1' }).color).toBe(false);
    expect(terminal(stream(true, 80).stream, { NO_COLOR: '' }).color).toBe(true);
    expect(terminal(stream(false).stream, { FORCE_COLOR: '1' }).color).toBe(true);
    expect(terminal(stream(false).stream, { FORCE_COLOR: '0' }).color).toBe(false);
    expect(terminal(stream(true, 80).stream, { FORCE_COLOR: 'false' }).color).toBe(true);
    expect(terminal(stream(false).stream, { FORCE_COLOR: '1', NO_COLOR: '1' }).color).toBe(false);
  });
});
