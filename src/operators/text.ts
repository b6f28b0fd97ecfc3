import { reduce, type OperatorFunction } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { choiceOf, type ChoiceConfig } from './choiceOption.js';
import { tokens } from './tokens.js';

/**
 * The whole answer text, once, when the stream completes.
 *
 * ```text
 * events:  -a-r-b-u-f|           a: text 'Hel', r: reasoning, b: text 'lo', u: usage, f: finish
 * text:    ----------(t|)        t: 'Hello'
 * events:  -a-b-#                (the stream fails)
 * text:    -----#                nothing but the error
 * ```
 *
 * Emits exactly one string on completion (`''` when the answer had no text,
 * e.g. only tool calls); errors with the source and then emits nothing, so a
 * partial answer is never mistaken for a whole one; unsubscribe unsubscribes
 * the source. Cold; the text is collected per subscription.
 *
 * @throws {@link RxllmError} `invalid-config` at once when `choice` is not an integer ≥ 0.
 *
 * @example
 * ```ts
 * const summary = await lastValueFrom(llm(request).pipe(text()));
 * ```
 * @see textSoFar
 * @see result
 */
export function text(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, string> {
  const choice = choiceOf(config, 'text');
  return (events) =>
    events.pipe(
      tokens({ choice }),
      reduce((all, token) => all + token, ''),
    );
}
