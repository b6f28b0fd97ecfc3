import { isContentEvent, type LlmEvent } from '../core/events.js';

// Internal: not exported from any entry point.

/**
 * What an answer has produced so far, for the error that may cut it off: the text of choice 0
 * (an error's `partialText`) and whether any content went out (its `tokensEmitted`, which stops
 * `retry()` from sending the request again). One instance per request or attempt; the caller
 * adds each event as it passes it on.
 *
 * @example
 * ```ts
 * const partial = new PartialText();
 * // for each event emitted:
 * partial.add(event);
 * // on failure:
 * new RxllmError('connection-lost', message, { status, ...partial.errorDetails() });
 * ```
 */
export class PartialText {
  private textSoFar = '';
  private contentSeen = false;

  /** The text of choice 0 so far (`''` before any). */
  get text(): string {
    return this.textSoFar;
  }

  /** True once a content event (text, reasoning, refusal, tool call; any choice) was added. */
  get tokensEmitted(): boolean {
    return this.contentSeen;
  }

  /**
   * Takes in one event. Returns true when it made the text of choice 0 longer: a caller that
   * shows the text so far has something new to show.
   */
  add(event: LlmEvent): boolean {
    if (!isContentEvent(event)) return false;
    this.contentSeen = true;
    if (event.type !== 'text' || event.choice !== 0 || event.text === '') return false;
    // `+=` builds a rope in V8: no copy per token, flattened once when the text is read.
    this.textSoFar += event.text;
    return true;
  }

  /** The fields an error raised now carries: `tokensEmitted`, and `partialText` when there is any text. */
  errorDetails(): { partialText?: string; tokensEmitted: boolean } {
    return this.textSoFar === '' ? { tokensEmitted: this.contentSeen } : { partialText: this.textSoFar, tokensEmitted: this.contentSeen };
  }
}
