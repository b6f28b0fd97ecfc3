import type {
  FinishEvent,
  FinishReason,
  LlmUsage,
  ReasoningEvent,
  RefusalEvent,
  TextEvent,
  ToolCallEvent,
  UsageEvent,
} from '../core/events.js';

// Factories for LlmEvents, for value maps of marble tests and scripts. They are named `…Event` so that
// they never clash with the operators `text` and `tokens` of the root entry point in the same test file.

/** Which choice an event belongs to (for `n > 1`). */
export interface EventChoice {
  /** @defaultValue 0 */
  choice?: number;
}

/**
 * A text delta.
 *
 * @example
 * ```ts
 * const values = { a: textEvent('Hel'), b: textEvent('lo'), f: finishEvent('stop') };
 * ```
 */
export function textEvent(text: string, options: EventChoice = {}): TextEvent {
  return { type: 'text', choice: options.choice ?? 0, text };
}

/** A reasoning delta (`reasoning_content`). @example `reasoningEvent('The user wants…')` */
export function reasoningEvent(text: string, options: EventChoice = {}): ReasoningEvent {
  return { type: 'reasoning', choice: options.choice ?? 0, text };
}

/** A refusal delta. @example `refusalEvent("I can't help with that.")` */
export function refusalEvent(text: string, options: EventChoice = {}): RefusalEvent {
  return { type: 'refusal', choice: options.choice ?? 0, text };
}

/** One fragment of a tool call, as {@link toolCallEvent} takes it. */
export interface ToolCallFragment extends EventChoice {
  /** The call's slot; fragments with the same slot are one call. @defaultValue 0 */
  callIndex?: number;
  /** Sent once, on the call's first fragment. */
  id?: string;
  /** Sent once, on the call's first fragment. */
  name?: string;
  /** A piece of the arguments' JSON text. @defaultValue `''` */
  arguments?: string;
}

/**
 * A fragment of a tool call. A whole call in one event is
 * `toolCallEvent({ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' })`.
 *
 * @example
 * ```ts
 * const values = {
 *   a: toolCallEvent({ callIndex: 0, id: 'call_1', name: 'get_weather', arguments: '{"ci' }),
 *   b: toolCallEvent({ callIndex: 0, arguments: 'ty":"Oslo"}' }),
 * };
 * ```
 */
export function toolCallEvent(fragment: ToolCallFragment): ToolCallEvent {
  const event: ToolCallEvent = {
    type: 'tool-call',
    choice: fragment.choice ?? 0,
    callIndex: fragment.callIndex ?? 0,
    arguments: fragment.arguments ?? '',
  };
  // Absent rather than undefined, as the transports emit them, so `toEqual` against real events holds.
  if (fragment.id !== undefined) event.id = fragment.id;
  if (fragment.name !== undefined) event.name = fragment.name;
  return event;
}

/** Token counts for {@link usageEvent}: {@link LlmUsage} with `total_tokens` optional. */
export interface UsageCounts {
  /** Tokens in the prompt. */
  prompt_tokens: number;
  /** Tokens in the answer. */
  completion_tokens: number;
  /** @defaultValue `prompt_tokens + completion_tokens` */
  total_tokens?: number;
  [key: string]: unknown;
}

/**
 * Token usage of the whole request; `total_tokens` is the sum unless given.
 *
 * @example `usageEvent({ prompt_tokens: 12, completion_tokens: 3 })`
 */
export function usageEvent(usage: UsageCounts): UsageEvent {
  return {
    type: 'usage',
    choice: 0,
    usage: { ...usage, total_tokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens },
  };
}

/** A choice is done. @example `finishEvent('tool_calls')` */
export function finishEvent(reason: FinishReason = 'stop', options: EventChoice = {}): FinishEvent {
  return { type: 'finish', choice: options.choice ?? 0, reason };
}
