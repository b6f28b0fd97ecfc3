import { defer, map, type OperatorFunction, reduce } from 'rxjs';
import type { FinishReason, LlmEvent, LlmUsage } from '../core/events.js';
import { choiceOf, type ChoiceConfig } from './choiceOption.js';

/** One assembled tool call. `arguments` is the JSON text the model wrote (parse it yourself, or with zod). */
export interface AssembledToolCall {
  /** The call's id, as the model sent it (what a `tool` message answers with `tool_call_id`). */
  id: string;
  /** The function to call. */
  name: string;
  /** The arguments, as the JSON text the model wrote (parse and validate it yourself). */
  arguments: string;
}

/** Everything one choice of an answer produced, assembled. */
export interface LlmResult {
  /** The whole answer's text (empty if there was none). */
  text: string;
  /** The whole refusal message, if the model refused (empty otherwise). */
  refusal: string;
  /** The whole reasoning text the model streamed (`reasoning_content` / `reasoning`; empty if none). */
  reasoning: string;
  /** The assembled tool calls, in the order they started (empty if none). */
  toolCalls: AssembledToolCall[];
  /** Usage of the whole request, when the server reported it. */
  usage?: LlmUsage;
  /** Why the choice stopped; undefined only if the stream ended without saying. */
  finishReason?: FinishReason;
}

/**
 * The whole answer of one choice, assembled, once, when the stream completes:
 * `{ text, refusal, reasoning, toolCalls, usage, finishReason }`.
 *
 * ```text
 * events:  -r-a-c-b-d-u-f|      r: reasoning, a: text 'Let me ', c: call 0 get_weather '{"city":',
 *                               b: text 'check.', d: call 0 '"Oslo"}', u: usage, f: finish tool_calls
 * result:  --------------(r|)   r: { text: 'Let me check.', toolCalls: [get_weather {"city":"Oslo"}], ... }
 * ```
 *
 * Emits exactly one {@link LlmResult} on completion; errors with the source and
 * emits nothing (a partial answer is never passed off as whole); unsubscribe
 * unsubscribes the source. Cold; the accumulator is per subscription. Tool
 * calls come in `callIndex` order, whatever order their fragments arrived in.
 *
 * @throws {@link RxllmError} `invalid-config` at once when `choice` is not an integer ≥ 0.
 *
 * @example
 * ```ts
 * const { text, toolCalls, usage } = await lastValueFrom(llm(request).pipe(result()));
 * ```
 * @see toolCalls
 */
export function result(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, LlmResult> {
  const choice = choiceOf(config, 'result');
  // The accumulator is created inside `defer` so each subscription gets its own.
  return (events) => defer(() => events.pipe(reduce(collect(choice), newCollector()), map(assemble)));
}

interface Collector {
  // Strings are collected in arrays and joined once, which keeps long answers linear.
  text: string[];
  refusal: string[];
  reasoning: string[];
  // Keyed by callIndex, not an array: a provider may skip slots, and a sparse array silently loses an index
  // that is not a valid array index (2 ** 32, say), where a Map keeps it.
  calls: Map<number, AssembledToolCall>;
  usage?: LlmUsage;
  finishReason?: FinishReason;
}

function newCollector(): Collector {
  return { text: [], refusal: [], reasoning: [], calls: new Map() };
}

function collect(choice: number) {
  return (acc: Collector, event: LlmEvent): Collector => {
    if (event.type === 'usage') acc.usage = event.usage;
    else if (event.choice !== choice) return acc;
    else if (event.type === 'finish') acc.finishReason = event.reason;
    else if (event.type === 'tool-call') {
      let call = acc.calls.get(event.callIndex);
      if (!call) acc.calls.set(event.callIndex, (call = { id: '', name: '', arguments: '' }));
      if (event.id && !call.id) call.id = event.id;
      if (event.name && !call.name) call.name = event.name;
      call.arguments += event.arguments;
    } else acc[event.type].push(event.text);
    return acc;
  };
}

function assemble(acc: Collector): LlmResult {
  const assembled: LlmResult = {
    text: acc.text.join(''),
    refusal: acc.refusal.join(''),
    reasoning: acc.reasoning.join(''),
    // In callIndex order, whatever order the fragments came in; skipped slots leave no hole.
    toolCalls: [...acc.calls].sort(([a], [b]) => a - b).map(([, call]) => call),
  };
  if (acc.usage) assembled.usage = acc.usage;
  if (acc.finishReason !== undefined) assembled.finishReason = acc.finishReason;
  return assembled;
}
