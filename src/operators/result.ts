import { defer, map, type OperatorFunction, reduce } from 'rxjs';
import type { FinishReason, LlmEvent, LlmUsage } from '../core/events.js';
import type { ChoiceConfig } from './choiceOption.js';

/** One assembled tool call. `arguments` is the JSON text the model wrote (parse it yourself, or with zod). */
export interface AssembledToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** Everything one choice of an answer produced, assembled. */
export interface LlmResult {
  text: string;
  refusal: string;
  reasoning: string;
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
 * events:  --t(Hi)--c(0,get_weather,{"ci)--c(0,ty":"Oslo"})--u--f(tool_calls)|
 * result:  -------------------------------------------------------------------(r|)
 * ```
 *
 * Emits exactly one {@link LlmResult} on completion; errors with the source and
 * emits nothing (a partial answer is never passed off as whole); unsubscribe
 * unsubscribes the source. Cold; the accumulator is per subscription.
 *
 * @example
 * ```ts
 * const { text, toolCalls, usage } = await lastValueFrom(llm(request).pipe(result()));
 * ```
 * @see toolCalls
 */
export function result(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, LlmResult> {
  const choice = config.choice ?? 0;
  // The accumulator is created inside `defer` so each subscription gets its own.
  return (events) => defer(() => events.pipe(reduce(collect(choice), newCollector()), map(assemble)));
}

interface Collector {
  // Strings are collected in arrays and joined once, which keeps long answers linear.
  text: string[];
  refusal: string[];
  reasoning: string[];
  calls: AssembledToolCall[];
  usage?: LlmUsage;
  finishReason?: FinishReason;
}

function newCollector(): Collector {
  return { text: [], refusal: [], reasoning: [], calls: [] };
}

function collect(choice: number) {
  return (acc: Collector, event: LlmEvent): Collector => {
    if (event.type === 'usage') acc.usage = event.usage;
    else if (event.choice !== choice) return acc;
    else if (event.type === 'finish') acc.finishReason = event.reason;
    else if (event.type === 'tool-call') {
      const call = (acc.calls[event.callIndex] ??= { id: '', name: '', arguments: '' });
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
    // A provider may skip slots (index 1 without 0); holes are dropped.
    toolCalls: acc.calls.filter((call): call is AssembledToolCall => call !== undefined),
  };
  if (acc.usage) assembled.usage = acc.usage;
  if (acc.finishReason !== undefined) assembled.finishReason = acc.finishReason;
  return assembled;
}
