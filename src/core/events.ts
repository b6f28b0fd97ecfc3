/**
 * Why a choice stopped. The OpenAI values, plus whatever else a provider sends
 * (OpenRouter's `"error"`, for one), kept as a string.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | (string & {});

/** Token counts, in OpenAI's shape (extra provider fields are kept). */
export interface LlmUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  completion_tokens_details?: { reasoning_tokens?: number; [key: string]: unknown };
  prompt_tokens_details?: { cached_tokens?: number; [key: string]: unknown };
  [key: string]: unknown;
}

/** A piece of the answer's text. */
export interface TextEvent {
  type: 'text';
  /** Choice index (for `n > 1`); 0 otherwise. */
  choice: number;
  text: string;
}

/** A piece of the model's reasoning (`reasoning_content` / `reasoning` deltas). */
export interface ReasoningEvent {
  type: 'reasoning';
  choice: number;
  text: string;
}

/** A piece of a refusal message. */
export interface RefusalEvent {
  type: 'refusal';
  choice: number;
  text: string;
}

/**
 * A fragment of a tool call. Fragments with the same `callIndex` (and choice)
 * belong to one call: `id` and `name` arrive once, `arguments` are concatenated.
 * `callIndex` is rxllm's own slot number, normalised across providers that send
 * no index, or index 0 for every call.
 */
export interface ToolCallEvent {
  type: 'tool-call';
  choice: number;
  callIndex: number;
  id?: string;
  name?: string;
  arguments: string;
}

/**
 * Token usage for the whole request: at most one per response, after the last `finish`,
 * when the server reported usage. `choice` is always 0 (usage covers every choice).
 */
export interface UsageEvent {
  type: 'usage';
  choice: number;
  usage: LlmUsage;
}

/** A choice is done. */
export interface FinishEvent {
  type: 'finish';
  choice: number;
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
