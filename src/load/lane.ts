import type { LlmRequest } from '../core/request.js';

/**
 * The request field that names a request's priority lane for {@link limit} and
 * {@link batch}: `{ ...request, rxllm_lane: 'background' }`. The middleware
 * strips it before the request goes on, because providers reject unknown
 * parameters and the transports send every field they are given.
 */
export const LANE_FIELD = 'rxllm_lane';

/** Reads the lane a request asks for: the {@link LANE_FIELD} field, if it is a string. */
export function laneField(request: LlmRequest): string | undefined {
  const lane = (request as Record<string, unknown>)[LANE_FIELD];
  return typeof lane === 'string' ? lane : undefined;
}

/** The request without its {@link LANE_FIELD} field (the same object when it has none). */
export function withoutLane(request: LlmRequest): LlmRequest {
  if (!Object.hasOwn(request, LANE_FIELD)) return request;
  const { [LANE_FIELD]: _lane, ...rest } = request as Record<string, unknown>;
  return rest as LlmRequest;
}

/**
 * The request with its lane set, for a step or a caller that builds requests:
 * `llm(inLane('background', request))`.
 *
 * @example
 * ```ts
 * const classify = (text: string) => llm(inLane('background', { model, messages: [{ role: 'user', content: text }] }));
 * ```
 */
export function inLane<R extends LlmRequest>(lane: string, request: R): R & { rxllm_lane: string } {
  return { ...request, [LANE_FIELD]: lane } as R & { rxllm_lane: string };
}
