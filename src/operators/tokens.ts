import { filter, map, type OperatorFunction } from 'rxjs';
import type { LlmEvent, TextEvent } from '../core/events.js';
import { choiceOf, type ChoiceConfig } from './choiceOption.js';

/**
 * The text deltas of a stream, as strings.
 *
 * ```text
 * events:  -a-e-b-u-f|     a: text 'Hel', e: text '', b: text 'lo', u: usage, f: finish
 * tokens:  -a---b----|     a: 'Hel', b: 'lo'
 * ```
 *
 * Emits one string per non-empty text event of the choice (reasoning, refusals
 * and tool calls are skipped; so are empty deltas); completes and errors with the source;
 * unsubscribe unsubscribes the source (aborting the request). Cold.
 *
 * @throws {@link RxllmError} `invalid-config` at once when `choice` is not an integer ≥ 0.
 *
 * @example
 * ```ts
 * llm(request).pipe(tokens()).subscribe((token) => process.stdout.write(token));
 * ```
 * @see textSoFar
 */
export function tokens(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, string> {
  const choice = choiceOf(config, 'tokens');
  return (events) =>
    events.pipe(
      // Empty deltas are dropped so that textSoFar() never repeats a value and a UI never re-renders for nothing.
      filter((event): event is TextEvent => event.type === 'text' && event.choice === choice && event.text !== ''),
      map((event) => event.text),
    );
}
