import { scan, type OperatorFunction } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import type { ChoiceConfig } from './choiceOption.js';
import { tokens } from './tokens.js';

/**
 * The answer's text so far, growing with every token: what a UI renders.
 *
 * ```text
 * events:  --t(Hel)--t(lo)--f|
 * result:  --Hel-----Hello---|
 * ```
 *
 * Emits after each text delta of the choice; completes and errors with the
 * source; unsubscribe unsubscribes the source (aborting the request). Cold; the
 * accumulated text is per subscription.
 *
 * @example
 * ```ts
 * llm(request).pipe(textSoFar()).subscribe((text) => (view.innerText = text));
 * ```
 * @see text
 */
export function textSoFar(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, string> {
  return (events) =>
    events.pipe(
      tokens(config),
      scan((soFar, token) => soFar + token, ''),
    );
}
