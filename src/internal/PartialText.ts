import { isContentEvent, type LlmEvent } from '../core/events.js';

// Internal: not exported from any entry point.

/**
 * Deltas joined into one flat string at a time. Each block costs one string header and one rope
 * node (about 50 bytes on 64-bit V8) instead of one rope node per delta (32 bytes each). 32 rather
 * than 16: a join has a fixed cost, and a long answer keeps 1.3 bytes per delta less; the pending
 * array grows past its first allocation (17 slots) only for its last 14 deltas.
 */
const BLOCK_DELTAS = 32;

/** A delta this long is a block of its own, kept as it came: joining it would copy it for no saving. */
const LONG_DELTA = 256;

/**
 * What an answer has produced so far, for the error that may cut it off: the text of one choice
 * (choice 0 for an error's `partialText`) and whether any content went out (its `tokensEmitted`,
 * which stops `retry()` from sending the request again). One instance per request or attempt; the
 * caller adds each event as it passes it on. `textSoFar()` and `text()` keep a choice's text in one
 * too, so that the strings they emit hold flat blocks, not a rope node per token.
 *
 * The text is kept in flat blocks of {@link BLOCK_DELTAS} deltas, each joined once, so a long
 * answer costs about its characters and not a rope node per token; {@link text} is O(1) amortised
 * when read after every token (it extends the previous reading by the new deltas), and every string
 * it returned stays what it was (strings are immutable; nothing is ever written into one).
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
  /** The text up to the last block boundary: flat blocks, one rope node between each two. */
  private head = '';
  /** The deltas since the last block boundary, joined into one block when it fills. */
  private readonly pending: string[] = [];
  /**
   * The text as last read: `head` and the first `readCount` pending deltas, one rope node each, so
   * that a caller reading after every token shares structure with its previous reading and copies
   * nothing. Dropped to `head` at each block boundary.
   */
  private read = '';
  private readCount = 0;
  private contentSeen = false;

  /** @param choice the choice whose text is kept (any choice's content counts for {@link tokensEmitted}). */
  constructor(private readonly choice = 0) {}

  /** The text of the choice so far (`''` before any). */
  get text(): string {
    const pending = this.pending;
    let read = this.read;
    // `+` builds a rope node in V8: no copy here; the pending deltas are copied once, at the boundary.
    while (this.readCount < pending.length) read += pending[this.readCount++];
    this.read = read;
    return read;
  }

  /** True once a content event (text, reasoning, refusal, tool call; any choice) was added. */
  get tokensEmitted(): boolean {
    return this.contentSeen;
  }

  /**
   * Takes in one event. Returns true when it made the choice's text longer: a caller that
   * shows the text so far has something new to show.
   */
  add(event: LlmEvent): boolean {
    if (!isContentEvent(event)) return false;
    this.contentSeen = true;
    if (event.type !== 'text' || event.choice !== this.choice || event.text === '') return false;
    const delta = event.text;
    if (delta.length >= LONG_DELTA) {
      this.seal();
      this.extendHead(delta);
    } else if (this.pending.push(delta) === BLOCK_DELTAS) {
      this.seal();
    }
    return true;
  }

  /** The fields an error raised now carries: `tokensEmitted`, and `partialText` when there is any text. */
  errorDetails(): { partialText?: string; tokensEmitted: boolean } {
    const text = this.text;
    return text === '' ? { tokensEmitted: this.contentSeen } : { partialText: text, tokensEmitted: this.contentSeen };
  }

  /** Closes the pending deltas into one flat block (a copy of their characters, made once). */
  private seal(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    const block = pending.length === 1 ? pending[0]! : pending.join('');
    pending.length = 0;
    this.extendHead(block);
  }

  private extendHead(block: string): void {
    this.head = this.head === '' ? block : this.head + block;
    // Readings made before stay valid (they are strings); the next one starts from the new head.
    this.read = this.head;
    this.readCount = 0;
  }
}
