import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { PartialText } from '../internal/PartialText.js';
import { Relay } from '../internal/Relay.js';
import { choiceOf, type ChoiceConfig } from './choiceOption.js';

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
  // One relay over the events, the text kept in flat blocks (PartialText), rather than
  // tokens() + scan(+): one hop per token instead of two, and a value a UI keeps holds a few
  // rope nodes over flat blocks, not a rope node per token (32 bytes each).
  return (events) => new Observable<string>((subscriber) => events.subscribe(new TextsSoFar(subscriber, new PartialText(choice))));
}

class TextsSoFar extends Relay<LlmEvent, string> {
  constructor(
    destination: Subscriber<string>,
    private readonly soFar: PartialText,
  ) {
    super(destination);
  }

  next(event: LlmEvent): void {
    // add() is true only for a non-empty text delta of the choice: an empty one emits nothing.
    if (!this.closed && this.soFar.add(event)) this.destination.next(this.soFar.text);
  }
}
