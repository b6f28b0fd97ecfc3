import * as s from '../internal/check.js';

/**
 * The config-schema entry for the `step` option that `measure()`, `timeouts()`, `hedge()` and
 * `route()` no longer take (0.2.0). It accepts only its absence, so a config written for 0.1
 * fails at construction with `invalid-config` and a message saying where the step comes from now,
 * instead of the generic "unrecognized key" or, worse, a silently ignored option that would file
 * every step's latency under one name.
 */
export const stepOptionRemoved = s.absent(
  '`step` was removed: the step now comes from the request context: step() sets it, or pass { step } as the transport\'s second argument (llm(request, { step: "summary" })). One middleware stack then serves every step.',
);
