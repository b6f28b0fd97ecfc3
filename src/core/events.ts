/**
 * Why a choice stopped. The OpenAI values, plus whatever else a provider sends
 * (OpenRouter's `"error"`, for one), kept as a string.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | (string & {});

/** Token counts, in OpenAI's shape (extra provider fields are kept). */
export interface LlmUsage {
  /** Tokens in the prompt (`usage.prompt_tokens`). */
  prompt_tokens: number;
  /** Tokens in the answer, reasoning included. */
  completion_tokens: number;
  /** `prompt_tokens + completion_tokens`, as the server reported it. */
  total_tokens: number;
  /** Details of `completion_tokens` (`reasoning_tokens`: the part spent on reasoning), when the server sends them. */
  completion_tokens_details?: {
    /** Tokens spent on hidden reasoning, counted in `completion_tokens`. */
    reasoning_tokens?: number;
    [key: string]: unknown;
  };
  /** Details of `prompt_tokens` (`cached_tokens`: the part served from the provider's prompt cache), when the server sends them. */
  prompt_tokens_details?: {
    /** Prompt tokens served from the provider's prompt cache. */
    cached_tokens?: number;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** A piece of the answer's text. */
export interface TextEvent {
  /** Discriminant: a piece of the answer's text. */
  type: 'text';
  /** Choice index (for `n > 1`); 0 otherwise. */
  choice: number;
  /** The new text (a delta, not the text so far). */
  text: string;
}

/** A piece of the model's reasoning (`reasoning_content` / `reasoning` deltas). */
export interface ReasoningEvent {
  /** Discriminant: a piece of reasoning. */
  type: 'reasoning';
  /** Choice index (for `n > 1`); 0 otherwise. */
  choice: number;
  /** The new reasoning text (a delta). */
  text: string;
}

/** A piece of a refusal message. */
export interface RefusalEvent {
  /** Discriminant: a piece of a refusal. */
  type: 'refusal';
  /** Choice index (for `n > 1`); 0 otherwise. */
  choice: number;
  /** The new refusal text (a delta). */
  text: string;
}

/**
 * A fragment of a tool call. Fragments with the same `callIndex` (and choice)
 * belong to one call: `id` and `name` arrive once, `arguments` are concatenated.
 * `callIndex` is rxllm's own slot number, normalised across providers that send
 * no index, or index 0 for every call.
 */
export interface ToolCallEvent {
  /** Discriminant: a tool-call fragment. */
  type: 'tool-call';
  /** Choice index (for `n > 1`); 0 otherwise. */
  choice: number;
  /** Which call of the choice this fragment belongs to: rxllm's slot number, 0, 1, … in the order calls started. */
  callIndex: number;
  /** The call's id, on the fragment that carries it (usually the first). */
  id?: string;
  /** The function's name, on the fragment that carries it (usually the first). */
  name?: string;
  /** A piece of the arguments' JSON text; concatenate a call's pieces for the whole. */
  arguments: string;
}

/**
 * Token usage for the whole request: at most one per response, after the last `finish`,
 * when the server reported usage. `choice` is always 0 (usage covers every choice).
 */
export interface UsageEvent {
  /** Discriminant: the request's token usage. */
  type: 'usage';
  /** Always 0: usage covers every choice. */
  choice: number;
  /** The token counts the server reported. */
  usage: LlmUsage;
}

/** A choice is done. */
export interface FinishEvent {
  /** Discriminant: a choice ended. */
  type: 'finish';
  /** Choice index (for `n > 1`); 0 otherwise. */
  choice: number;
  /** Why it ended: `stop`, `length` (the `max_tokens` cap), `tool_calls`, `content_filter`, or a provider's own value. */
  reason: FinishReason;
}

/**
 * Everything a model streams, as one discriminated union. Every operator above
 * the transport speaks only this. A non-streaming response becomes the same
 * events, so operators need not care which one was asked for.
 *
 * Only what the model sent: what middleware knows about a request (which
 * fallback candidate answered, say) travels beside it, in the
 * `RequestContext` (`onServed`), so a cached answer replays the model's
 * events and nothing else.
 */
export type LlmEvent = TextEvent | ReasoningEvent | RefusalEvent | ToolCallEvent | UsageEvent | FinishEvent;

/** True for the events that carry content (text, reasoning, refusal, tool-call): the ones a user sees. */
export function isContentEvent(event: LlmEvent): event is TextEvent | ReasoningEvent | RefusalEvent | ToolCallEvent {
  return event.type !== 'usage' && event.type !== 'finish';
}
