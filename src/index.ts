/* Public surface of "rxllm": explicit named exports, grouped by layer. */

/* Core model */
export { llmRequestSchema, parseRequest, type LlmRequest, type LlmMessage } from './core/request.js';
export {
  isContentEvent,
  type LlmEvent,
  type TextEvent,
  type ReasoningEvent,
  type RefusalEvent,
  type ToolCallEvent,
  type UsageEvent,
  type FinishEvent,
  type ServedEvent,
  type FinishReason,
  type LlmUsage,
} from './core/events.js';
export { RxllmError, isRxllmError, type RxllmErrorCode, type RxllmErrorDetails } from './core/errors.js';
export { withMiddleware, type Transport, type Middleware } from './core/transport.js';
export type { RequestContext, Served } from './core/context.js';

/* Transports */
export { sseTransport, type SseTransportConfig } from './transport/sse.js';
export { fromEventStream, type EventSourceMessage } from './transport/fromEventStream.js';
export { decodeChatStream } from './transport/decodeChatStream.js';
export { eventsFromResponse } from './transport/eventsFromResponse.js';
export { simulatedTransport, type SimulatedTransportConfig } from './transport/simulated.js';
export {
  defaultSimulatorProfiles,
  parseSimulatorProfiles,
  type SimulatorProfile,
  type SimulatorProfiles,
  type SimulatorFault,
  type FaultTrigger,
} from './simulator/profiles.js';
export type { SimulatorDistribution, SimulatorTail } from './simulator/latency.js';
export { fromServerSentEvents, type FromServerSentEventsConfig, type ServerSentErrorPayload } from './transport/fromServerSentEvents.js';
export { embeddingsClient, type EmbeddingsClient, type EmbeddingsClientConfig } from './transport/embeddings.js';

/* Operators over events */
export { tokens } from './operators/tokens.js';
export { textSoFar } from './operators/textSoFar.js';
export { text } from './operators/text.js';
export { toolCalls } from './operators/toolCalls.js';
export { result, type LlmResult, type AssembledToolCall } from './operators/result.js';
export type { ChoiceConfig } from './operators/choiceOption.js';

/* Pipelines */
export { step, type Step, type StepConfig } from './pipeline/step.js';
export type { StepState, StepStatus } from './pipeline/StepState.js';
export {
  parallel,
  type Parallel,
  type ParallelConfig,
  type ParallelState,
  type ParallelValue,
  type ParallelInput,
  type Branches,
  type BranchState,
  type BranchValue,
} from './pipeline/parallel.js';
export { graph, type Graph, type GraphConfig, type GraphNode, type GraphNodeState, type GraphState } from './pipeline/graph.js';
export { criticalPath, type TimelineEntry } from './pipeline/criticalPath.js';
export { finalValue } from './pipeline/finalValue.js';
export type { Progress, ProgressRunning, ProgressDone, ProgressFailed, Runnable } from './pipeline/Progress.js';

/* Request keys, de-duplication, cache */
export { requestKey, isSampledRequest, type RequestScope } from './core/requestKey.js';
export { dedupe, type DedupeConfig, type DedupeStats, type DedupeMiddleware } from './middleware/dedupe.js';
export { cache, type CacheConfig, type CacheStats, type CacheMiddleware } from './middleware/cache.js';
export { memoryCacheStore, type MemoryCacheStore, type MemoryCacheStoreConfig } from './cache/memoryCacheStore.js';
export type { CacheStore, CacheEntry, CacheStoreStats, MaybePromise } from './cache/CacheStore.js';
export { createInFlightRegistry, type InFlightRegistry } from './cache/InFlightRegistry.js';

/* Prefetch */
export { prefetcher, type Prefetcher, type PrefetcherConfig, type PrefetchStats, type TakeOptions } from './pipeline/prefetcher.js';
export { prefetchWhen, type PrefetchPrediction } from './pipeline/prefetchWhen.js';

/* Measurement */
export { measure, type MeasureConfig } from './middleware/measure.js';
export {
  LatencyRegistry,
  type LatencyRegistryConfig,
  type LatencyWindowConfig,
  type SeriesQuery,
  type PercentileQuery,
  type RegistrySnapshot,
  type SnapshotEntry,
  type SeriesSnapshot,
  type BucketCounts,
} from './metrics/LatencyRegistry.js';
export { LatencyHistogram, type LatencyHistogramConfig, type Distribution } from './metrics/LatencyHistogram.js';
export type { LatencyStats, LatencyMetric } from './metrics/LatencyStats.js';
export type { LatencyRecord, RequestOutcome } from './metrics/LatencyRecord.js';
export { snapshotTable, type SnapshotTableConfig } from './metrics/snapshotTable.js';
export { compareSnapshots, type CompareSnapshotsConfig, type SnapshotComparison, type ComparisonCheck } from './metrics/compareSnapshots.js';
export {
  prometheusText,
  prometheusMetrics,
  prometheusContentType,
  type PrometheusConfig,
  type PrometheusMetric,
  type PrometheusMetricData,
  type PrometheusSample,
} from './metrics/prometheus.js';
export { recordSpans, timelineSpans, type RecordSpansConfig, type TimelineSpansConfig } from './metrics/otel.js';
export {
  timelineFromRecords,
  timelineFromGraph,
  type TimelineRow,
  type TimelineStatus,
  type GraphTimelineEntry,
  type GraphRunTimeline,
} from './metrics/timeline.js';
export { renderWaterfall, type RenderWaterfallConfig } from './metrics/renderWaterfall.js';
export { waterfallHtml, type WaterfallHtmlConfig } from './metrics/waterfallHtml.js';

/* Load control */
export { limit, type LimitConfig, type LimitMiddleware, type LimitStats, type LaneStats } from './middleware/limit.js';
export { batch, type BatchConfig, type BatchMiddleware, type BatchStats } from './middleware/batch.js';
export type { BatcherCounts } from './load/adaptiveBatcher.js';
export { inLane, LANE_FIELD } from './load/lane.js';

/* Timeouts, retries, fallback, hedging, routing */
export { timeouts, type TimeoutsConfig } from './middleware/timeouts.js';
export { retry, isRetryable, type RetryConfig, type RetryInfo } from './middleware/retry.js';
export type { BackoffConfig } from './middleware/backoff.js';
export { fallback, type FallbackConfig, type FallbackCandidate, type FallbackSwitch } from './middleware/fallback.js';
export { hedge, type HedgeConfig, type HedgeBudget, type HedgeEvent } from './middleware/hedge.js';
export { route, type RouteConfig, type RouteCandidate, type RouteDecision, type RouteReason, type Tier } from './middleware/route.js';
export type { LatencySource } from './middleware/latencySource.js';
export { batchEmbeddings, type BatchEmbeddingsConfig, type BatchedEmbeddings } from './load/batchEmbeddings.js';
