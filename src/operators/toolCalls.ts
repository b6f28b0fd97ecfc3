import { map, type OperatorFunction } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import type { ChoiceConfig } from './choiceOption.js';
import { result, type AssembledToolCall } from './result.js';

/**
 * The tool calls of an answer, assembled from their fragments, once, when the
 * stream completes.
 *
 * ```text
 * events:  --c(0,id1,get_weather,{"ci)--c(0,ty":"Oslo"})--f(tool_calls)|
 * result:  -------------------------------------------------------------([call]|)
 * ```
 *
 * Emits one array (empty when the model called no tool) in call order;
 * errors with the source and emits nothing; unsubscribe unsubscribes the
 * source. Cold.
 *
 * @example
 * ```ts
 * const calls = await lastValueFrom(llm(request).pipe(toolCalls()));
 * for (const call of calls) run(call.name, JSON.parse(call.arguments));
 * ```
 * @see result
 */
export function toolCalls(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, AssembledToolCall[]> {
  return (events) => events.pipe(result(config), map((assembled) => assembled.toolCalls));
}
