import { of } from 'rxjs';
import type { LlmEvent } from '../../src/core/events';
import type { Transport } from '../../src/core/transport';

/** A whole model answer, and a transport that gives it to every request. */
export interface CannedAnswer {
  /** `tokens` text events (` token0`, ` token1`, ...), a `stop` finish and the usage (40 prompt tokens). */
  events: readonly LlmEvent[];
  /** Plays `events` for any request, synchronously, and counts the requests that reach it. */
  transport: Transport;
  /** How many requests reached `transport`: a cache hit or a joined request leaves it unchanged. */
  calls: () => number;
}

/**
 * The answer the cache benches store and replay: a replay is checked against `events.length`, a hit told from
 * a call upstream by `calls()`.
 */
export function cannedAnswer(tokens: number): CannedAnswer {
  const events: LlmEvent[] = [
    ...Array.from({ length: tokens }, (_, i): LlmEvent => ({ type: 'text', choice: 0, text: ` token${i}` })),
    { type: 'finish', choice: 0, reason: 'stop' },
    { type: 'usage', choice: 0, usage: { prompt_tokens: 40, completion_tokens: tokens, total_tokens: 40 + tokens } },
  ];
  let calls = 0;
  const transport: Transport = () => {
    calls++;
    return of(...events);
  };
  return { events, transport, calls: () => calls };
}
