// OpenTelemetry is an optional peer: this file imports only its types (erased at build), and takes
// the Tracer from the caller. Without @opentelemetry/api installed nothing here loads it; with the
// API but no registered SDK, `trace.getTracer()` returns a no-op tracer and nothing is recorded.
import type { Attributes, Span, SpanStatusCode, Tracer } from '@opentelemetry/api';
import type { Subscription } from 'rxjs';
import type { LatencyRegistry } from './LatencyRegistry.js';
import { type LatencyRecord, ttftOf } from './LatencyRecord.js';
import { summarizeTimeline, type TimelineRow } from './timeline.js';

// Numeric values of the API's enums, so no runtime import is needed (they are part of its stable 1.x contract).
const SPAN_KIND_INTERNAL = 0;
const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2 as SpanStatusCode;

/** Options for {@link recordSpans}. */
export interface RecordSpansConfig {
  /** Where spans go: `trace.getTracer('rxllm')` from `@opentelemetry/api`. */
  tracer: Tracer;
  /** `gen_ai.provider.name` (`'openai'`, `'azure.ai.openai'`, ...), when you know it. */
  provider?: string;
}

/**
 * Exports every request recorded in a registry as an OpenTelemetry span, with the GenAI semantic
 * convention attributes:
 *
 * | attribute | value |
 * |---|---|
 * | `gen_ai.operation.name` | `chat` |
 * | `gen_ai.request.model` | the request's model |
 * | `gen_ai.provider.name` | `provider`, when given |
 * | `gen_ai.response.finish_reasons` | finish reason per choice |
 * | `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` | from usage (output tokens counted when usage is absent) |
 * | `gen_ai.response.time_to_first_chunk` | time to first token, in seconds |
 * | `error.type` | the error code, on failed requests (status ERROR) |
 * | `rxllm.step`, `rxllm.outcome` | the step, and `ok` / `error` / `cancelled` |
 *
 * Each span is named `chat {model}` (kind CLIENT), starts and ends at the request's scheduler times
 * (epoch milliseconds with the default scheduler), and carries a `gen_ai.first_token` event at the
 * first token. Spans are created when a request ends, in the active context of that moment, which
 * (with an async-context manager, as every OpenTelemetry Node SDK registers) is the context the
 * request was made in.
 *
 * Subscribes to {@link LatencyRegistry.records}; unsubscribe the returned subscription to stop.
 * Only records made after the call are exported.
 *
 * @example
 * ```ts
 * import { trace } from '@opentelemetry/api';
 * const exporting = recordSpans(latency, { tracer: trace.getTracer('rxllm'), provider: 'openai' });
 * // on shutdown: exporting.unsubscribe();
 * ```
 * @see timelineSpans
 */
export function recordSpans(registry: LatencyRegistry, config: RecordSpansConfig): Subscription {
  const { tracer, provider } = config;
  return registry.records().subscribe((record) => exportRecord(tracer, record, provider));
}

function exportRecord(tracer: Tracer, record: LatencyRecord, provider: string | undefined): void {
  const attributes: Attributes = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': record.model,
    'gen_ai.response.finish_reasons': record.finishReasons,
    'gen_ai.usage.output_tokens': record.outputTokens,
    'rxllm.step': record.step,
    'rxllm.outcome': record.outcome,
  };
  if (provider !== undefined) attributes['gen_ai.provider.name'] = provider;
  if (record.inputTokens !== undefined) attributes['gen_ai.usage.input_tokens'] = record.inputTokens;
  const ttft = ttftOf(record);
  if (ttft !== undefined) attributes['gen_ai.response.time_to_first_chunk'] = ttft / 1000;
  if (record.outcome === 'error') attributes['error.type'] = record.errorCode ?? 'unknown';

  const span = tracer.startSpan(`chat ${record.model}`, { kind: SPAN_KIND_CLIENT, startTime: record.start, attributes });
  if (record.firstToken !== undefined) span.addEvent('gen_ai.first_token', record.firstToken);
  if (record.outcome === 'error') span.setStatus({ code: STATUS_ERROR, message: record.errorCode ?? 'unknown' });
  span.end(record.end);
}

/** Options for {@link timelineSpans}. */
export interface TimelineSpansConfig {
  /** Where spans go: `trace.getTracer('rxllm')` from `@opentelemetry/api`. */
  tracer: Tracer;
  /** The parent span's name. @defaultValue 'pipeline' */
  name?: string;
  /** Extra attributes for the parent span (a run id, the input's size). */
  attributes?: Attributes;
}

/**
 * Exports one pipeline run's timeline as OpenTelemetry spans: a parent span named `name` over the
 * whole run, and a child span per node (`rxllm.step`, `rxllm.status`, `rxllm.critical`, a
 * `gen_ai.first_token` event, status ERROR on failed nodes), with the rows' own times. Children are
 * parented through `tracer.startActiveSpan`, so they nest under the run with any context manager
 * (every OpenTelemetry SDK setup registers one).
 *
 * Synchronous: the spans are ended before it returns. Does nothing for an empty timeline.
 *
 * @example
 * ```ts
 * timelineSpans(run.timeline, { tracer: trace.getTracer('rxllm'), name: 'support-reply' });
 * ```
 * @see recordSpans
 */
export function timelineSpans(rows: readonly TimelineRow[], config: TimelineSpansConfig): void {
  if (rows.length === 0) return;
  const { tracer } = config;
  const { origin, wall } = summarizeTimeline(rows);
  tracer.startActiveSpan(
    config.name ?? 'pipeline',
    { kind: SPAN_KIND_INTERNAL, startTime: origin, attributes: { 'rxllm.nodes': rows.length, ...config.attributes } },
    (parent: Span) => {
      for (const row of rows) {
        const attributes: Attributes = { 'rxllm.step': row.name, 'rxllm.status': row.status, 'rxllm.critical': row.critical === true };
        if (row.firstToken !== undefined) attributes['gen_ai.response.time_to_first_chunk'] = (row.firstToken - row.start) / 1000;
        const span = tracer.startSpan(row.name, { kind: SPAN_KIND_INTERNAL, startTime: row.start, attributes });
        if (row.firstToken !== undefined) span.addEvent('gen_ai.first_token', row.firstToken);
        if (row.status === 'error') span.setStatus({ code: STATUS_ERROR, message: row.detail ?? 'error' });
        span.end(row.end);
      }
      parent.end(origin + wall);
    },
  );
}
