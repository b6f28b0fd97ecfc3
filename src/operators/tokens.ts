import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';
import { Relay } from '../internal/Relay.js';
import type { LlmEvent } from '../core/events.js';
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
  // One relay rather than filter + map: this runs once per token.
  return (events) => new Observable<string>((subscriber) => events.subscribe(new TextsOf(subscriber, choice)));
}

class TextsOf extends Relay<LlmEvent, string> {
  constructor(
    destination: Subscriber<string>,
    private readonly choice: number,
  ) {
    super(destination);
  }

  next(event: LlmEvent): void {
    // Empty deltas are dropped so that textSoFar() never repeats a value and a UI never re-renders for nothing.
    if (!this.closed && event.type === 'text' && event.choice === this.choice && event.text !== '') this.destination.next(event.text);
  }
}
