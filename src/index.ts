/**
 * Public surface of "rxllm": explicit named exports, grouped by layer. Metrics (registry, exporters,
 * renderers) are in 'rxllm/metrics', the simulator in 'rxllm/simulator'; nothing under src/internal/
 * is exported from any entry point.
 *
 * @module rxllm
 */

/* Core model */
export { llmRequestSchema, parseRequest, type LlmRequest, type LlmMessage, type LlmInstructionMessage, type LlmTextPart } from './core/request.js';
export {
  isContentEvent,
  type LlmEvent,
  type TextEvent,
  type ReasoningEvent,
  type RefusalEvent,
  type ToolCallEvent,
  type UsageEvent,
  type FinishEvent,
  type FinishReason,
  type LlmUsage,
} from './core/events.js';
export { RxllmError, isRxllmError, type RxllmErrorCode, type RxllmErrorDetails, type TimeLimit } from './core/errors.js';
export { withMiddleware, type Transport, type Middleware } from './core/transport.js';
export { stepOf, timeLeft, withDeadline, type RequestContext, type Served } from './core/context.js';

/* Transports */
export { sseTransport, type SseTransportConfig } from './transport/sse.js';
export { fromEventStream, type EventSourceMessage, type FromEventStreamOptions } from './transport/fromEventStream.js';
export { decodeChatStream } from './transport/decodeChatStream.js';
export type { ResponseContext } from './transport/ChatCompletionDecoder.js';
export { eventsFromResponse } from './transport/eventsFromResponse.js';
export { fromServerSentEvents, type FromServerSentEventsConfig, type ServerSentErrorPayload, type ServerSentEventsReconnect } from './transport/fromServerSentEvents.js';
export { embeddingsClient, type EmbeddingsClient, type EmbeddingsClientConfig } from './transport/embeddings.js';

/* Operators over events */
export { tokens } from './operators/tokens.js';
export { textSoFar } from './operators/textSoFar.js';
export { text } from './operators/text.js';
export { toolCalls } from './operators/toolCalls.js';
export { parse, type ParseConfig } from './operators/parse.js';
export { result, type LlmResult, type AssembledToolCall } from './operators/result.js';
export type { ChoiceConfig } from './operators/choiceOption.js';

/* Pipelines */
export { step, type Step, type StepConfig } from './pipeline/step.js';
export type { StepState, StepStateBase, StepStatus } from './pipeline/StepState.js';
export {
  parallel,
  type Parallel,
  type ParallelConfig,
  type ParallelState,
  type ParallelStateBase,
  type ParallelValue,
  type ParallelInput,
  type Branches,
  type BranchState,
  type BranchValue,
} from './pipeline/parallel.js';
export { graph, type Graph, type GraphConfig, type GraphNode, type GraphNodeState, type GraphState, type GraphStateBase } from './pipeline/graph.js';
export { criticalPath, type TimelineEntry } from './pipeline/criticalPath.js';
export { finalValue } from './operators/finalValue.js';
export type { Progress, ProgressRunning, ProgressDone, ProgressFailed, Runnable, RunFunction } from './core/Progress.js';

/* Request keys, de-duplication, cache */
export { requestKey, isSampledRequest, type RequestScope } from './core/requestKey.js';
export { dedupe, type DedupeConfig, type DedupeStats, type DedupeMiddleware } from './middleware/dedupe.js';
export { cache, type CacheConfig, type CacheStats, type CacheMiddleware } from './middleware/cache.js';
export { memoryCacheStore, type MemoryCacheStore, type MemoryCacheStoreConfig } from './cache/memoryCacheStore.js';
export type { CacheStore, CacheEntry, CacheStoreStats } from './cache/CacheStore.js';
export type { InFlightRegistry } from './cache/InFlightRegistry.js';

/* Prefetch */
export { prefetcher, type Prefetcher, type PrefetcherConfig, type PrefetchStats, type TakeOptions } from './pipeline/prefetcher.js';
export { prefetchWhen, type PrefetchPrediction } from './pipeline/prefetchWhen.js';

/* Measurement */
export { measure, type MeasureConfig } from './middleware/measure.js';
// The registry, exporters and renderers are in 'rxllm/metrics' (src/metrics/index.ts).

/* Load control */
export { limit, type LimitConfig, type LimitMiddleware, type LimitStats, type LaneStats } from './middleware/limit.js';
export type { ConcurrencyStore, ConcurrencySlot } from './load/ConcurrencyStore.js';
export { rateLimit, type RateLimitConfig, type RateLimitMiddleware, type RateLimitStats } from './middleware/rateLimit.js';
export type { RateLimiter, RateCost, ProviderLimits } from './load/RateLimiter.js';
export { batch, type BatchConfig, type BatchMiddleware, type BatchStats } from './middleware/batch.js';

/* Timeouts, retries, fallback, hedging, routing */
export { timeouts, type TimeoutsConfig } from './middleware/timeouts.js';
export { retry, isRetryable, type RetryConfig, type RetryInfo } from './middleware/retry.js';
export type { BackoffConfig } from './middleware/backoff.js';
export { fallback, type FallbackConfig, type FallbackCandidate, type FallbackServed, type FallbackSwitch } from './middleware/fallback.js';
export { hedge, type HedgeConfig, type HedgeBudget, type HedgeEvent } from './middleware/hedge.js';
export { route, type RouteConfig, type RouteCandidate, type RouteDecision, type RouteReason, type Tier } from './middleware/route.js';
export type { LatencySource } from './middleware/latencySource.js';
export { batchEmbeddings, type BatchEmbeddingsConfig, type BatchedEmbeddings, type BatchEmbeddingsStats } from './load/batchEmbeddings.js';
