import { Observable, type OperatorFunction, type Subscriber } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { PartialText } from '../internal/PartialText.js';
import { Relay } from '../internal/Relay.js';
import { choiceOf, type ChoiceConfig } from './choiceOption.js';

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
  // One relay, the text kept in flat blocks (PartialText) rather than reduce(+) over tokens(): the
  // answer a caller keeps is a few joined blocks, not a rope node per token.
  return (events) => new Observable<string>((subscriber) => events.subscribe(new WholeText(subscriber, new PartialText(choice))));
}

class WholeText extends Relay<LlmEvent, string> {
  constructor(
    destination: Subscriber<string>,
    private readonly all: PartialText,
  ) {
    super(destination);
  }

  next(event: LlmEvent): void {
    if (!this.closed) this.all.add(event);
  }

  /** The whole text, then the Relay's own completion (as reduce() emitted: the value, then complete). */
  override complete(): void {
    if (!this.closed) this.destination.next(this.all.text);
    super.complete();
  }
}
