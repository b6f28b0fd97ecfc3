import { isRxllmError } from '../core/errors.js';

/**
 * What a command prints when a request failed: `code: message` for an rxllm error, in the CLI's own
 * words for a refused connection (the usual first-run mistake: the local server named by
 * `OPENAI_BASE_URL` or `--base-url` is not running), the message of any other error.
 */
export function failureMessage(error: unknown, endpoint: string): string {
  if (!isRxllmError(error)) return error instanceof Error ? error.message : String(error);
  if (error.code === 'connection-refused') {
    return `connection-refused: nothing is listening at ${endpoint}. Start the server there, or point OPENAI_BASE_URL at one that runs (unset, with no key, the built-in simulator answers).`;
  }
  return `${error.code}: ${error.message}`;
}
