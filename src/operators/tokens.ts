import { filter, map, type OperatorFunction } from 'rxjs';
import type { LlmEvent, TextEvent } from '../core/events.js';
import type { ChoiceConfig } from './choiceOption.js';

/**
 * The text deltas of a stream, as strings.
 *
 * ```text
 * events:  --t(Hel)--t(lo)--u--f|
 * result:  --Hel-----lo-------- |
 * ```
 *
 * Emits one string per non-empty text event of the choice (reasoning, refusals
 * and tool calls are skipped); completes and errors with the source;
 * unsubscribe unsubscribes the source (aborting the request). Cold.
 *
 * @example
 * ```ts
 * llm(request).pipe(tokens()).subscribe((token) => process.stdout.write(token));
 * ```
 * @see textSoFar
 */
export function tokens(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, string> {
  const choice = config.choice ?? 0;
  return (events) =>
    events.pipe(
      filter((event): event is TextEvent => event.type === 'text' && event.choice === choice),
      map((event) => event.text),
    );
}
