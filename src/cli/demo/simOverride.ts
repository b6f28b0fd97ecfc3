// The simulator's per-request profile override (`rxllm_sim`), as the techniques' sections send and print it. Internal to
// the demo: a user sets `rxllm_sim` in the request (or the x-rxllm-sim header) without a middleware.
import type { LlmRequest } from '../../core/request.js';
import type { Middleware } from '../../core/transport.js';
import { parseProfileOverride } from '../../simulator/profiles.js';

/** Adds the simulator's per-request profile override (`rxllm_sim`) to each request. */
export function simulating(override: (request: LlmRequest) => string | undefined): Middleware {
  return (next) => (request, context) => {
    const sim = override(request);
    return next(sim === undefined ? request : { ...request, rxllm_sim: sim }, context);
  };
}

/** `ttft=150,tokens=24,tps=400` for people. */
export function describeSim(sim: string): string {
  const { profile, tailProbability = 0, tailMultiplier } = parseProfileOverride(sim);
  const { ttftMs } = profile;
  const ttft = typeof ttftMs === 'object' ? `first token ${ttftMs.median}ms median, ${ttftMs.p95}ms p95` : `first token ${ttftMs}ms`;
  const tail = tailProbability > 0 ? `, ${tailProbability * 100}% of requests ${tailMultiplier}× slower` : '';
  return `${ttft}${tail}, ${profile.outputTokens} tokens at ${profile.tokensPerSecond} tokens/s`;
}
