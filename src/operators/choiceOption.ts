import { RxllmError } from '../core/errors.js';

/** The option every event operator takes: which choice to read when `n > 1`. */
export interface ChoiceConfig {
  /** Choice index to read (an integer ≥ 0, below the request's `n`). @defaultValue 0 */
  choice?: number;
}

/**
 * The choice index an operator reads, checked once when the operator is built:
 * a choice like `-1` or `1.5` matches no event, so without this check the
 * operator would complete silently with an empty answer.
 *
 * @throws {@link RxllmError} with code `invalid-config` when `choice` is not an integer ≥ 0.
 */
export function choiceOf(config: ChoiceConfig, operator: string): number {
  const choice = config.choice ?? 0;
  if (!Number.isInteger(choice) || choice < 0) {
    throw new RxllmError('invalid-config', `${operator}(): \`choice\` must be an integer ≥ 0 (the choice index for n > 1), got ${String(choice)}.`);
  }
  return choice;
}
