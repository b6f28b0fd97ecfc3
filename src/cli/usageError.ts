// How every command reports a command line it cannot use: in our own words, with the one line of
// its help that matters, never Node's parseArgs text or the whole help.

/**
 * Writes `rxllm COMMAND: PROBLEM`, then the one relevant line of `help` (the flag's own line when
 * the problem names a flag that `help` lists, else the command's synopsis, its first line) and a
 * pointer to `rxllm help COMMAND`, to stderr. Returns 2, the exit code of a usage error.
 */
export function usageError(io: { stderr: { write(chunk: string): unknown } }, command: string, help: string, problem: string): number {
  const flag = /(^|\s)(--[a-z][a-z-]*)/.exec(problem)?.[2];
  const lines = help.split('\n');
  const flagLine = flag ? lines.find((line) => new RegExp(`^\\s+(-\\w, )?${flag}\\b`).test(line)) : undefined;
  const usage = flagLine ? flagLine.trim().replace(/\s{2,}/, ' — ') : `usage: ${lines[0]!.trim()}`;
  io.stderr.write(`rxllm ${command}: ${problem}\n  ${usage}\n  (rxllm help ${command} lists every option)\n`);
  return 2;
}

/** What a `parseArgs` error means, in our words: `unknown option --bogus`, `--model needs a value`. */
export function describeParseError(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const quoted = /'([^']*)'/.exec(message ?? '')?.[1] ?? '';
  // parseArgs quotes '--model <value>' or '-n, --dry-run': the long name is the one our help lists.
  const words = quoted.split(/[\s,]+/);
  const option = words.find((word) => word.startsWith('--')) ?? words[0];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take/.test(message ?? '') ? `${option} takes no value` : `${option} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted}" (this command takes options only)`;
    default:
      return message ?? String(error);
  }
}
