import { reduce, type OperatorFunction } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import type { ChoiceConfig } from './choiceOption.js';
import { tokens } from './tokens.js';

/**
 * The whole answer text, once, when the stream completes.
 *
 * ```text
 * events:  --t(Hel)--t(lo)--f|
 * result:  ------------------(Hello|)
 * ```
 *
 * Emits exactly one string on completion (`''` when the answer had no text,
 * e.g. only tool calls); errors with the source and then emits nothing, so a
 * partial answer is never mistaken for a whole one; unsubscribe unsubscribes
 * the source. Cold.
 *
 * @example
 * ```ts
 * const summary = await lastValueFrom(llm(request).pipe(text()));
 * ```
 * @see textSoFar
 * @see result
 */
export function text(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, string> {
  return (events) =>
    events.pipe(
      tokens(config),
      reduce((all, token) => all + token, ''),
    );
}
