import { config } from 'rxjs';

// Internal: not exported from any entry point.

/**
 * Reports an error that no subscriber can be given, as RxJS reports one: to `config.onUnhandledError`
 * when the app set it, else thrown on a timer, where the process's (or the page's) uncaught-error
 * handling sees it. For code a relay calls but does not control (a user's latency registry): what it
 * throws must neither break the answer passing through nor be lost. RxJS's own reporter is not exported.
 */
export function reportUnhandledError(error: unknown): void {
  setTimeout(() => {
    const { onUnhandledError } = config;
    if (onUnhandledError) onUnhandledError(error);
    else throw error;
  });
}
