import { parseArgs } from 'node:util';
import { describeParseError, usageError } from '../../src/cli/usageError';
import { captureIo } from '../helpers/captureIo';

const HELP = `rxllm thing [options] FILE

Options:
  --port N          the port (default 1)
  -n, --dry-run     do nothing
`;

function parseError(args: string[]): unknown {
  try {
    parseArgs({ args, options: { port: { type: 'string' }, 'dry-run': { type: 'boolean', short: 'n' } } });
  } catch (error) {
    return error;
  }
  throw new Error('parsed');
}

describe('describeParseError', () => {
  it("says what parseArgs found wrong in our words, without its text or quotes", () => {
    expect(describeParseError(parseError(['--bogus']))).toBe('unknown option --bogus');
    expect(describeParseError(parseError(['--port']))).toBe('--port needs a value');
    expect(describeParseError(parseError(['--dry-run=yes']))).toBe('--dry-run takes no value');
    expect(describeParseError(parseError(['extra']))).toBe('unexpected argument "extra" (this command takes options only)');
  });
});

describe('usageError', () => {
  it("shows the flag's own help line when the problem names one, else the synopsis; returns 2", () => {
    const flag = captureIo();
    expect(usageError(flag.io, 'thing', HELP, '--port must be an integer, got "abc"')).toBe(2);
    expect(flag.stderr()).toBe('rxllm thing: --port must be an integer, got "abc"\n  --port N — the port (default 1)\n  (rxllm help thing lists every option)\n');
    const short = captureIo();
    usageError(short.io, 'thing', HELP, '--dry-run takes no value');
    expect(short.stderr()).toContain('\n  -n, --dry-run — do nothing\n');
    const other = captureIo();
    usageError(other.io, 'thing', HELP, 'unknown option --bogus');
    expect(other.stderr()).toContain('\n  usage: rxllm thing [options] FILE\n');
  });
});
