/**
 * Entry point "rxllm/metrics": the latency registry and histograms that `measure()` records into, and
 * what reads them (tables, comparisons, Prometheus and OpenTelemetry exporters, timelines, waterfalls).
 * A separate entry so the root `rxllm` loads no histogram code and its types never mention the optional
 * `@opentelemetry/api` peer (only otel.ts imports its types).
 *
 * @module rxllm/metrics
 */
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
} from './LatencyRegistry.js';
export { LatencyHistogram, type LatencyHistogramConfig, type Distribution } from './LatencyHistogram.js';
export type { LatencyStats, LatencyMetric } from './LatencyStats.js';
export type { LatencyRecord, RequestOutcome } from './LatencyRecord.js';

/* Reading a registry */
export { snapshotTable, type SnapshotTableConfig } from './snapshotTable.js';
export { compareSnapshots, type CompareSnapshotsConfig, type SnapshotComparison, type ComparisonCheck } from './compareSnapshots.js';

/* Exporters */
export {
  prometheusText,
  prometheusMetrics,
  prometheusContentType,
  type PrometheusConfig,
  type PrometheusMetric,
  type PrometheusMetricData,
  type PrometheusSample,
} from './prometheus.js';
export { recordSpans, timelineSpans, type RecordSpansConfig, type TimelineSpansConfig } from './otel.js';

/* Timelines and waterfalls */
export {
  timelineFromRecords,
  timelineFromGraph,
  type TimelineRow,
  type TimelineStatus,
  type GraphTimelineEntry,
  type GraphRunTimeline,
} from './timeline.js';
export { renderWaterfall, type RenderWaterfallConfig } from './renderWaterfall.js';
export { waterfallHtml, type WaterfallHtmlConfig } from './waterfallHtml.js';
