import type { LlmEvent, LlmUsage } from '../core/events.js';
import { RxllmError, type RxllmErrorCode, type RxllmErrorDetails } from '../core/errors.js';
import { PartialText } from '../internal/PartialText.js';

/** What the decoder knows about the HTTP response, for the errors it raises. */
export interface ResponseContext {
  /** The response's HTTP status (200 for a stream that failed inside its body). */
  status?: number;
  /** The provider's request id (`x-request-id`), for support tickets. */
  requestId?: string;
}

/**
 * The {@link ResponseContext} of a response, read when an error needs it: `() => responseDetails(response)`
 * holds one closure per live stream where the details themselves held a copy of every response header.
 */
export type ResponseDetailsOf = () => ResponseContext;

interface ToolSlot {
  id?: string;
  providerIndex?: number;
}

interface ChoiceState {
  finished: boolean;
  slots: ToolSlot[];
}

type Json = Record<string, unknown>;

/**
 * Turns chat-completion payloads (stream chunks or a whole response) into
 * {@link LlmEvent}s, smoothing over how real servers differ: role-only and
 * empty deltas, usage in odd places (`x_groq.usage`, on every vLLM chunk),
 * tool calls with no index or with index 0 for every call, error objects inside
 * a 200 stream. One instance per response: it keeps the state needed to say
 * whether the stream ended complete.
 */
export class ChatCompletionDecoder {
  // Choice 0's state; the Map is made only when another index appears (n > 1): a Map and its table
  // are ~0.2 KB, held by every live stream for nothing when it has one choice.
  private first: ChoiceState | undefined;
  private choices: Map<number, ChoiceState> | undefined;
  private readonly partial = new PartialText();
  private finishEmitted = false;
  // Held until the response ends, so one usage event reports the whole request even when a server
  // repeats running counts on every chunk (vLLM's continuous usage stats).
  private latestUsage: LlmUsage | undefined;

  private readonly sink: { next(event: LlmEvent): void };

  /**
   * @param sink where the events go, called once per event: a `Subscriber<LlmEvent>` as is (a
   * method on a long-lived prototype, not a closure per response, keeps the per-token call cheap),
   * or a function.
   * @param context what the errors say about the response, or a function that reads it when an
   * error is raised (a stream keeps its decoder as long as it streams, and one that ends well never
   * needs its response's details: see {@link ResponseDetailsOf}).
   */
  constructor(
    sink: { next(event: LlmEvent): void } | ((event: LlmEvent) => void),
    private readonly context: ResponseContext | ResponseDetailsOf = {},
  ) {
    this.sink = typeof sink === 'function' ? { next: sink } : sink;
  }

  /** Decodes one stream chunk. Throws an {@link RxllmError} for an error the provider put in the stream. */
  chunk(payload: unknown): void {
    // This runs once per token, and after a full GC V8 compiles it again (in the background, on CPU
    // time the caller pays), each small method on the way on its own: the common chunk, one choice
    // with a text delta, is decoded here in one function, with no iterator and no call per field.
    // Every other field (reasoning, refusal, tool calls, usage, an error) costs a load here and is
    // decoded by a method called only when the field is present. (The text event is the same
    // literal as message()'s: V8 gives both one hidden class.)
    if (!isObject(payload)) {
      throw this.error('malformed-event', `Expected a JSON object in the stream, got ${typeof payload}.`);
    }
    const error = payload['error'];
    if ((error !== undefined && error !== null) || payload['object'] === 'error') this.throwIfProviderError(payload);
    const choices = payload['choices'];
    if (Array.isArray(choices)) {
      for (let i = 0; i < choices.length; i++) {
        const choice: unknown = choices[i];
        if (!isObject(choice)) continue;
        const index = typeof choice['index'] === 'number' ? choice['index'] : 0;
        const state = index === 0 && this.first !== undefined ? this.first : this.choice(index);
        const delta = choice['delta'];
        if (isObject(delta)) {
          const content = delta['content'];
          if (typeof content === 'string' && content !== '') {
            const event: LlmEvent = { type: 'text', choice: index, text: content };
            this.partial.add(event);
            this.sink.next(event);
          }
          if (delta['reasoning_content'] != null || delta['reasoning'] != null || delta['refusal'] != null || delta['tool_calls'] != null) {
            this.beyondText(index, state, delta, false);
          }
        }
        const reason = choice['finish_reason'];
        if (reason !== undefined && reason !== null) this.finish(index, state, reason);
      }
    }
    const usage = payload['usage'];
    if (usage !== undefined && usage !== null) this.usage(usage);
    const groq = payload['x_groq'];
    if (isObject(groq)) this.usage(groq['usage']);
  }

  /** Decodes a whole (non-streaming) response body into the same events a stream would give. */
  completion(payload: unknown): void {
    if (!isObject(payload)) {
      throw this.error('malformed-event', `Expected a JSON object as the response body, got ${typeof payload}.`);
    }
    this.throwIfProviderError(payload);
    const choices = payload['choices'];
    if (!Array.isArray(choices) || choices.length === 0) {
      throw this.error('incomplete-stream', 'The response has no choices: the server produced no answer.', {
        raw: JSON.stringify(payload).slice(0, 2000),
      });
    }
    for (const choice of choices) {
      if (!isObject(choice)) continue;
      const index = typeof choice['index'] === 'number' ? choice['index'] : 0;
      const state = this.choice(index);
      const message = choice['message'];
      if (isObject(message)) this.message(index, state, message, true);
      this.finish(index, state, choice['finish_reason'] ?? 'stop');
    }
    this.usage(payload['usage']);
    this.flushUsage();
  }

  /**
   * Says whether the stream ended complete. `sawDone`: the `[DONE]` sentinel arrived.
   * Returns the `incomplete-stream` error to raise, or undefined after emitting the
   * request's usage (when the server reported it).
   */
  end(sawDone: boolean): RxllmError | undefined {
    const incomplete = this.incomplete(sawDone);
    if (incomplete) return incomplete;
    this.flushUsage();
    return undefined;
  }

  private incomplete(sawDone: boolean): RxllmError | undefined {
    if (sawDone) {
      // A role-only delta is not an answer: [DONE] must follow content or a finish_reason.
      return this.partial.tokensEmitted || this.finishEmitted
        ? undefined
        : this.error('incomplete-stream', 'The stream ended with [DONE] but produced no answer. Check the model name and the server logs.');
    }
    if (!this.first && !this.choices) {
      return this.error(
        'incomplete-stream',
        'The stream ended before any answer arrived. The server closed the connection early; retry the request.',
      );
    }
    const states: Iterable<[number, ChoiceState]> = this.choices ?? [[0, this.first!]];
    const unfinished = [...states].filter(([, state]) => !state.finished).map(([index]) => index);
    if (unfinished.length === 0) return undefined;
    return this.error(
      'incomplete-stream',
      `The stream ended without [DONE] while choice ${unfinished.join(', ')} had no finish_reason: the answer is cut off. Retry the request.`,
    );
  }

  /** An error carrying what this response produced so far (`partialText`, `tokensEmitted`). */
  error(code: RxllmErrorCode, message: string, details: RxllmErrorDetails = {}): RxllmError {
    const context = typeof this.context === 'function' ? this.context() : this.context;
    return new RxllmError(code, message, { ...context, ...this.partial.errorDetails(), ...details });
  }

  private choice(index: number): ChoiceState {
    // Nearly every stream has one choice: the Map is only for n > 1 (kept in order of arrival).
    if (index === 0 && this.first) return this.first;
    let state = this.choices?.get(index);
    if (!state) {
      state = { finished: false, slots: [] };
      if (index === 0) this.first = state;
      else if (!this.choices) this.choices = this.first ? new Map([[0, this.first]]) : new Map();
      this.choices?.set(index, state);
    }
    return state;
  }

  private message(choice: number, state: ChoiceState, message: Json, whole: boolean): void {
    const content = message['content'];
    if (typeof content === 'string' && content !== '') this.content({ type: 'text', choice, text: content });
    this.beyondText(choice, state, message, whole);
  }

  /** What a message or delta carries besides its text, in the order the events are emitted. */
  private beyondText(choice: number, state: ChoiceState, message: Json, whole: boolean): void {
    // DeepSeek and vLLM send `reasoning_content`; OpenRouter and Ollama send `reasoning`.
    const reasoning = message['reasoning_content'] ?? message['reasoning'];
    if (typeof reasoning === 'string' && reasoning !== '') this.content({ type: 'reasoning', choice, text: reasoning });
    const refusal = message['refusal'];
    if (typeof refusal === 'string' && refusal !== '') this.content({ type: 'refusal', choice, text: refusal });
    const toolCalls = message['tool_calls'];
    if (Array.isArray(toolCalls)) {
      toolCalls.forEach((call, position) => {
        if (isObject(call)) this.toolCall(choice, state, call, whole ? position : undefined);
      });
    }
  }

  private toolCall(choice: number, state: ChoiceState, call: Json, wholePosition: number | undefined): void {
    const id = nonEmptyString(call['id']);
    const providerIndex = typeof call['index'] === 'number' ? call['index'] : wholePosition;
    const fn = isObject(call['function']) ? call['function'] : {};
    const name = nonEmptyString(fn['name']);
    const args = fn['arguments'];
    const callIndex = this.slot(state, id, providerIndex);
    const event: LlmEvent = {
      type: 'tool-call',
      choice,
      callIndex,
      arguments: typeof args === 'string' ? args : args === undefined || args === null ? '' : JSON.stringify(args),
    };
    if (id !== undefined) event.id = id;
    if (name !== undefined) event.name = name;
    this.content(event);
  }

  /**
   * Finds the call slot a fragment belongs to. A new id always opens a new slot
   * (Ollama gives every call index 0 with distinct ids); a fragment without an id
   * continues the latest slot with its index, or the latest slot when it has no index.
   */
  private slot(state: ChoiceState, id: string | undefined, providerIndex: number | undefined): number {
    const { slots } = state;
    if (id !== undefined) {
      const known = slots.findIndex((slot) => slot.id === id);
      if (known !== -1) return known;
      // A first fragment without an id may have opened this index; the id completes it.
      const opened = providerIndex === undefined ? -1 : lastIndexOf(slots, (slot) => slot.providerIndex === providerIndex);
      if (opened !== -1 && slots[opened]!.id === undefined) {
        slots[opened]!.id = id;
        return opened;
      }
      slots.push({ id, providerIndex });
      return slots.length - 1;
    }
    if (providerIndex !== undefined) {
      const latest = lastIndexOf(slots, (slot) => slot.providerIndex === providerIndex);
      if (latest !== -1) return latest;
      slots.push({ providerIndex });
      return slots.length - 1;
    }
    if (slots.length === 0) slots.push({});
    return slots.length - 1;
  }

  private finish(choice: number, state: ChoiceState, reason: unknown): void {
    if (typeof reason !== 'string' || reason === '') return;
    if (reason === 'error') {
      throw this.error('stream-error', 'The provider ended the answer with finish_reason "error". Retry the request.');
    }
    state.finished = true;
    this.finishEmitted = true;
    this.sink.next({ type: 'finish', choice, reason });
  }

  private usage(usage: unknown): void {
    if (isObject(usage) && typeof usage['completion_tokens'] === 'number') this.latestUsage = usage as LlmUsage;
  }

  private flushUsage(): void {
    const usage = this.latestUsage;
    this.latestUsage = undefined;
    if (usage) this.sink.next({ type: 'usage', choice: 0, usage });
  }

  private content(event: LlmEvent): void {
    this.partial.add(event);
    this.sink.next(event);
  }

  private throwIfProviderError(payload: Json): void {
    const error = payload['error'];
    if (error !== undefined && error !== null) {
      const body = isObject(error) ? error : { message: String(error) };
      throw this.providerError(body);
    }
    // vLLM sends the error object itself, with no `error` key around it.
    if (payload['object'] === 'error') throw this.providerError(payload);
  }

  /** The `stream-error` for an error object the provider sent inside a successful response. */
  providerError(body: Json): RxllmError {
    const message = typeof body['message'] === 'string' ? body['message'] : JSON.stringify(body);
    const providerCode = body['code'] ?? body['type'];
    return this.error('stream-error', `The provider reported an error mid-response: ${message}`, {
      ...(providerCode === undefined || providerCode === null ? {} : { providerCode: String(providerCode) }),
      ...(typeof body['type'] === 'string' ? { providerType: body['type'] } : {}),
      ...(typeof body['param'] === 'string' ? { providerParam: body['param'] } : {}),
      raw: JSON.stringify(body),
    });
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function lastIndexOf<T>(items: readonly T[], match: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (match(items[i]!)) return i;
  return -1;
}
