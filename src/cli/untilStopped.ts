/**
 * Resolves when a long-running command should stop: when `until` aborts (tests),
 * or else on SIGINT / SIGTERM, whose listeners it removes again so a process
 * running several commands does not collect them.
 */
export function untilStopped(until?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (until) {
      if (until.aborted) resolve();
      else until.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
