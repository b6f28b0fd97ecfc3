/*
 * Waiting in specs that run against real servers and processes: wait for the event that proves a state (a key in
 * Redis, a counter reaching N, a child's line), never for a fixed sleep. A sleep that is long enough on a quiet
 * machine is too short on a loaded one (a load of 20 on 2 cores stretches every step tenfold), and a sleep before a
 * negative check proves nothing once it is too short. The bounds here are safety nets only: generous, so load never
 * reaches them, and failing with a message that says what was awaited, so a broken behaviour fails the test rather
 * than hanging it.
 */

/** The default safety net of {@link waitFor} and {@link within}: far above any wait a loaded machine needs. */
export const SAFETY_NET_MS = 15_000;

/**
 * Resolves once `condition` holds (checked at once, then every `everyMs`), with the milliseconds it took; rejects
 * with `not within <bound> ms: <what>` after `boundMs`. A check that throws counts as "not yet".
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, boundMs = SAFETY_NET_MS, everyMs = 10): Promise<number> {
  const started = performance.now();
  let lastError: unknown;
  const holds = async (): Promise<boolean> => {
    try {
      return await condition();
    } catch (error) {
      // A poll that fails (a command on a client that is reconnecting after a restart) is "not yet".
      lastError = error;
      return false;
    }
  };
  while (!(await holds())) {
    if (performance.now() - started > boundMs) {
      const cause = lastError === undefined ? '' : ` (the last check failed: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`not within ${boundMs} ms: ${what}${cause}`);
    }
    await new Promise((wake) => setTimeout(wake, everyMs));
  }
  return performance.now() - started;
}

/** `promise`, or a rejection `not within <bound> ms: <what>` after `boundMs` (the bound's timer never outlives it). */
export function within<T>(promise: Promise<T>, what: string, boundMs = SAFETY_NET_MS): Promise<T> {
  let bound: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    bound = setTimeout(() => reject(new Error(`not within ${boundMs} ms: ${what}`)), boundMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(bound));
}
