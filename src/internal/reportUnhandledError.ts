import { config } from 'rxjs';

// Internal: not exported from any entry point.

/**
 * Reports an error that no subscriber can be given, as RxJS reports one: to `config.onUnhandledError`
 * when the app set it, else thrown on a timer, where the process's (or the page's) uncaught-error
 * handling sees it. For code a relay calls but does not control (a user's latency registry): what it
 * throws must neither break the answer passing through nor be lost. RxJS's own reporter is internal
 * (`rxjs/internal/util/reportUnhandledError`: reachable through RxJS 7's `./internal/*` export, with no
 * semver promise and gone from RxJS 8), so rxllm keeps these few lines rather than depend on it.
 */
export function reportUnhandledError(error: unknown): void {
  setTimeout(() => {
    const { onUnhandledError } = config;
    if (onUnhandledError) onUnhandledError(error);
    else throw error;
  });
}
