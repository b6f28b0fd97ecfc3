import { map, type OperatorFunction } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { choiceOf, type ChoiceConfig } from './choiceOption.js';
import { result, type AssembledToolCall } from './result.js';

/**
 * The tool calls of an answer, assembled from their fragments, once, when the
 * stream completes.
 *
 * ```text
 * events:     -a-b-c-d-e-f|       fragments of two parallel calls, interleaved:
 *                                 a: call 1 get_time '{"tz"'     b: call 0 get_weather '{"city"'
 *                                 c: call 1 ':"CET"}'            d: call 0 ':"Oslo"'   e: call 0 '}'
 * toolCalls:  ------------(c|)    c: [get_weather {"city":"Oslo"}, get_time {"tz":"CET"}]
 * ```
 *
 * Emits one array (empty when the model called no tool) in call order;
 * errors with the source and emits nothing; unsubscribe unsubscribes the
 * source. Cold; fragments are collected per subscription.
 *
 * @throws {@link RxllmError} `invalid-config` at once when `choice` is not an integer ≥ 0.
 *
 * @example
 * ```ts
 * const calls = await lastValueFrom(llm(request).pipe(toolCalls()));
 * for (const call of calls) run(call.name, JSON.parse(call.arguments));
 * ```
 * @see result
 */
export function toolCalls(config: ChoiceConfig = {}): OperatorFunction<LlmEvent, AssembledToolCall[]> {
  const choice = choiceOf(config, 'toolCalls');
  return (events) => events.pipe(result({ choice }), map((assembled) => assembled.toolCalls));
}
