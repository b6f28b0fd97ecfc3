import { scan, type OperatorFunction } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { choiceOf, type ChoiceConfig } from './choiceOption.js';
import { tokens } from './tokens.js';

/**
 * The answer's text so far, growing with every token: what a UI renders.
 *
 * ```text
 * events:     -r-a-b-e-c-u-f|     r: reasoning, a: text 'Hel', b: text 'lo', e: text '', c: text ' world'
 * textSoFar:  ---a-b---c----|     a: 'Hel', b: 'Hello', c: 'Hello world'
 * ```
 *
 * Emits after each text delta of the choice; completes and errors with the
 * source; unsubscribe unsubscribes the source (aborting the request). Cold; the
 * accumulated text is per subscription. After an error, what was emitted is
 * only a partial answer.
 *
 * @throws {@link RxllmError} `invalid-config` at once when `choice` is not an integer ≥ 0.
 *
 * @example
 * ```ts
 * llm(request).pipe(textSoFar()).subscribe((text) => (view.innerText = text));
 * ```
 * @see text
 */
export function textSoFar(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, string> {
  const choice = choiceOf(config, 'textSoFar');
  return (events) =>
    events.pipe(
      tokens({ choice }),
      scan((soFar, token) => soFar + token, ''),
    );
}
