import type { FinishReason } from '../core/events.js';

/** How a measured request ended: completed, failed, or unsubscribed before either. */
export type RequestOutcome = 'ok' | 'error' | 'cancelled';

/**
 * One measured request, as {@link rxllm!measure | measure} records it in a {@link LatencyRegistry}.
 * Times are in milliseconds on the scheduler's clock (`scheduler.now()`): epoch milliseconds with
 * the default `asyncScheduler`, virtual frames under `TestScheduler`.
 */
export interface LatencyRecord {
  /** The step the request belongs to (by default its model). */
  step: string;
  /** The request's `model`. */
  model: string;
  /** When the request was subscribed to. */
  start: number;
  /** When its first content event (text, reasoning, refusal or tool call) arrived; absent if none did. */
  firstToken?: number;
  /** When it completed, failed or was cancelled. */
  end: number;
  /** How it ended: `ok` (completed), `error` or `cancelled` (unsubscribed first). */
  outcome: RequestOutcome;
  /** The error's `code` (an {@link rxllm!RxllmErrorCode | RxllmErrorCode}, or `'unknown'` for a foreign error); only when `outcome` is `'error'`. */
  errorCode?: string;
  /**
   * Output tokens: `completion_tokens` from the usage event when the server sent one, otherwise the
   * number of content events (one per streamed delta, which is one token on OpenAI-compatible servers).
   */
  outputTokens: number;
  /** Where `outputTokens` came from. */
  outputTokensFrom: 'usage' | 'counted';
  /** `prompt_tokens` from the usage event, when the server sent one. */
  inputTokens?: number;
  /** The finish reason of each choice that finished, in order of arrival. */
  finishReasons: FinishReason[];
}

/** Time to first token in ms, or `undefined` when no content arrived. */
export function ttftOf(record: LatencyRecord): number | undefined {
  return record.firstToken === undefined ? undefined : record.firstToken - record.start;
}

/**
 * Decode speed in tokens per second: output tokens over the time from the first token to the end.
 * Defined only for completed requests with at least one output token that streamed over a
 * non-zero interval (a whole answer in one instant has no meaningful speed).
 */
export function tokensPerSecondOf(record: LatencyRecord): number | undefined {
  if (record.outcome !== 'ok' || record.firstToken === undefined || record.outputTokens <= 0) return undefined;
  const streaming = record.end - record.firstToken;
  return streaming > 0 ? (record.outputTokens * 1000) / streaming : undefined;
}
