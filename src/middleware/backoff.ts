/** Exponential backoff with jitter, as {@link retry} and its options describe it. */
export interface BackoffConfig {
  /** Wait before the first retry, in ms. @defaultValue 500 */
  initialMs?: number;
  /** Each retry waits this much longer than the one before. @defaultValue 2 */
  factor?: number;
  /** The longest wait, in ms. @defaultValue 8000 */
  maxMs?: number;
  /**
   * How much of the wait is random: the wait is scaled by a factor between `1 - jitter` and 1,
   * so many clients that failed together do not retry together. @defaultValue 0.25
   */
  jitter?: number;
}

/**
 * The wait before retry number `attempt` (1 for the first retry): `initialMs × factor^(attempt−1)`,
 * capped at `maxMs`, scaled down by up to `jitter` using `random()` (a number in [0, 1)).
 * openai-node's rule with its defaults (0.5 s doubling to 8 s, 25 % jitter).
 */
export function backoffDelay(attempt: number, config: BackoffConfig, random: () => number): number {
  const { initialMs = 500, factor = 2, maxMs = 8000, jitter = 0.25 } = config;
  const base = Math.min(maxMs, initialMs * factor ** (attempt - 1));
  return base * (1 - jitter * random());
}
