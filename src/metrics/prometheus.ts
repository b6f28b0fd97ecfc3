import type { BucketCounts, LatencyRegistry, SeriesSnapshot } from './LatencyRegistry.js';

/** The `Content-Type` of {@link prometheusText}'s output (Prometheus text exposition format 0.0.4). */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

/** Options for {@link prometheusText} and {@link prometheusMetrics}. */
export interface PrometheusConfig {
  /** Prepended to every metric name. @defaultValue 'rxllm_' */
  prefix?: string;
}

/** One sample of a metric family, in prom-client's shape. */
export interface PrometheusSample {
  /** The sample's own name when it differs from the family's (`_bucket`, `_sum`, `_count`). */
  metricName?: string;
  /** The sample's labels (`step`, `model`, `le`, …). */
  labels: Record<string, string | number>;
  /** The sample's value (seconds for times, counts for counters). */
  value: number;
}

/** A metric family with its samples, in prom-client's `MetricObjectWithValues` shape. */
export interface PrometheusMetricData {
  /** The family's name (`rxllm_requests_total`, …). */
  name: string;
  /** The family's help text. */
  help: string;
  /** The Prometheus metric type. */
  type: 'counter' | 'histogram' | 'summary';
  /** How prom-client aggregates the family across workers: summed. */
  aggregator: 'sum';
  /** The family's samples, one per label set (and per bucket, sum and count for a histogram). */
  values: PrometheusSample[];
}

/**
 * A metric family that reads the registry whenever it is collected. It has the shape prom-client's
 * `Registry.registerMetric` reads (`name`, `help`, `type`, `get()`), so rxllm's metrics can join an
 * app's existing prom-client registry (a cast is needed: prom-client types that parameter as its
 * own classes).
 */
export interface PrometheusMetric {
  /** The family's name (`rxllm_requests_total`, …). */
  name: string;
  /** The family's help text. */
  help: string;
  /** The Prometheus metric type. */
  type: PrometheusMetricData['type'];
  /** How prom-client aggregates the family across workers: summed. */
  aggregator: 'sum';
  /** Reads the registry now: the family's current samples. */
  get(): PrometheusMetricData;
}

/**
 * The registry's metrics as prom-client-compatible metric families, read live on each `get()`:
 *
 * | name (default prefix) | type | labels |
 * |---|---|---|
 * | `rxllm_requests_total` | counter | step, model, outcome (`ok`, `error`, `cancelled`), code (errors only) |
 * | `rxllm_time_to_first_token_seconds` | histogram | step, model |
 * | `rxllm_request_duration_seconds` | histogram (completed requests) | step, model |
 * | `rxllm_output_tokens_total` | counter | step, model |
 * | `rxllm_input_tokens_total` | counter | step, model |
 * | `rxllm_output_tokens_per_second` | summary: quantiles 0.5/0.95/0.99 over the sliding window, `_sum`/`_count` all time | step, model |
 *
 * Histogram buckets are the registry's `prometheusBuckets` (the OpenTelemetry GenAI recommendations
 * by default), counted exactly as each request is recorded.
 *
 * @example
 * ```ts
 * import { Registry, type Metric } from 'prom-client';
 * const promRegistry = new Registry();
 * for (const metric of prometheusMetrics(latency)) promRegistry.registerMetric(metric as unknown as Metric);
 * ```
 * @see prometheusText
 */
export function prometheusMetrics(registry: LatencyRegistry, config: PrometheusConfig = {}): PrometheusMetric[] {
  return families(config.prefix ?? 'rxllm_').map(({ name, help, type, samples }) => ({
    name,
    help,
    type,
    aggregator: 'sum',
    get: () => ({ name, help, type, aggregator: 'sum', values: samples(registry.series()) }),
  }));
}

interface Family {
  name: string;
  help: string;
  type: PrometheusMetricData['type'];
  samples(series: SeriesSnapshot[]): PrometheusSample[];
}

function families(prefix: string): Family[] {
  const family = (name: string, type: Family['type'], help: string, samples: Family['samples']): Family => ({
    name: prefix + name,
    help,
    type,
    samples,
  });

  return [
    family('requests_total', 'counter', 'LLM requests measured by rxllm, by outcome (and error code).', (series) =>
      series.flatMap(({ step, model, all }) => [
        { labels: { step, model, outcome: 'ok' }, value: all.ok },
        ...Object.entries(all.errorCodes).map(([code, value]) => ({ labels: { step, model, outcome: 'error', code }, value })),
        { labels: { step, model, outcome: 'cancelled' }, value: all.cancelled },
      ]),
    ),
    family('time_to_first_token_seconds', 'histogram', 'Time from request to first content token.', (series) =>
      series.flatMap(({ step, model, buckets }) => histogramSamples(prefix + 'time_to_first_token_seconds', { step, model }, buckets.ttft)),
    ),
    family('request_duration_seconds', 'histogram', 'Time from request to the end of a completed response.', (series) =>
      series.flatMap(({ step, model, buckets }) => histogramSamples(prefix + 'request_duration_seconds', { step, model }, buckets.total)),
    ),
    family('output_tokens_total', 'counter', 'Output tokens (from usage, else counted deltas).', (series) =>
      series.map(({ step, model, all }) => ({ labels: { step, model }, value: all.outputTokens })),
    ),
    family('input_tokens_total', 'counter', 'Input (prompt) tokens reported in usage.', (series) =>
      series.map(({ step, model, all }) => ({ labels: { step, model }, value: all.inputTokens })),
    ),
    family(
      'output_tokens_per_second',
      'summary',
      'Decode speed after the first token; quantiles over the sliding window.',
      (series) =>
        series.flatMap(({ step, model, all, window }) => {
          const name = prefix + 'output_tokens_per_second';
          const speed = window.tokensPerSecond;
          const total = all.tokensPerSecond;
          return [
            ...(['0.5', '0.95', '0.99'] as const).map((quantile) => ({
              labels: { step, model, quantile },
              value: speed ? speed[quantile === '0.5' ? 'p50' : quantile === '0.95' ? 'p95' : 'p99'] : Number.NaN,
            })),
            { metricName: `${name}_sum`, labels: { step, model }, value: total ? total.mean * total.count : 0 },
            { metricName: `${name}_count`, labels: { step, model }, value: total?.count ?? 0 },
          ];
        }),
    ),
  ];
}

/**
 * The registry's metrics in the Prometheus text exposition format (0.0.4), ready to serve from a
 * `/metrics` handler with {@link prometheusContentType}. The families are those of
 * {@link prometheusMetrics}; append the text to prom-client's `await register.metrics()` to serve
 * both from one endpoint.
 *
 * A pure read of the registry at the moment of the call.
 *
 * @example
 * ```ts
 * http.createServer((req, res) => {
 *   res.setHeader('Content-Type', prometheusContentType);
 *   res.end(prometheusText(latency));
 * });
 * ```
 */
export function prometheusText(registry: LatencyRegistry, config: PrometheusConfig = {}): string {
  // One read of the registry for every family, so the families agree with each other.
  const series = registry.series();
  const blocks = families(config.prefix ?? 'rxllm_').map((family) => {
    const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
    for (const sample of family.samples(series)) {
      const labels = Object.entries(sample.labels)
        .map(([key, value]) => `${key}="${escapeLabel(String(value))}"`)
        .join(',');
      lines.push(`${sample.metricName ?? family.name}${labels ? `{${labels}}` : ''} ${formatValue(sample.value)}`);
    }
    return lines.join('\n');
  });
  return blocks.join('\n') + '\n';
}

function histogramSamples(name: string, labels: Record<string, string>, buckets: BucketCounts): PrometheusSample[] {
  return [
    ...buckets.le.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le: formatValue(le) }, value: buckets.counts[i]! })),
    { metricName: `${name}_sum`, labels, value: buckets.sum },
    { metricName: `${name}_count`, labels, value: buckets.count },
  ];
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

// The text format escapes backslash and newline in HELP, and also the double quote in label values.
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(text: string): string {
  return escapeHelp(text).replace(/"/g, '\\"');
}
