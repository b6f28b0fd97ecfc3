import {
  type Attributes,
  type Link,
  type Span,
  type SpanAttributeValue,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmRequest } from '../../src/core/request';
import { withMiddleware } from '../../src/core/transport';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import { recordSpans, timelineSpans } from '../../src/metrics/otel';
import type { TimelineRow } from '../../src/metrics/timeline';
import { measure } from '../../src/middleware/measure';
import { finishEvent, textEvent, usageEvent } from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';

/** A span that remembers everything done to it: a minimal in-memory implementation of the API's Span. */
class RecordedSpan implements Span {
  attributes: Attributes;
  events: { name: string; time: TimeInput | undefined }[] = [];
  status: SpanStatus | undefined;
  endTime: TimeInput | undefined;
  ended = false;

  constructor(
    public name: string,
    readonly options: SpanOptions,
    readonly parent: RecordedSpan | undefined,
  ) {
    this.attributes = { ...options.attributes };
  }
  spanContext(): SpanContext {
    return { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
  }
  setAttribute(key: string, value: SpanAttributeValue): this {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes): this {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    const isTime = typeof attributesOrTime === 'number' || attributesOrTime instanceof Date || Array.isArray(attributesOrTime);
    this.events.push({ name, time: isTime ? (attributesOrTime as TimeInput) : time });
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(name: string): this {
    this.name = name;
    return this;
  }
  end(endTime?: TimeInput): void {
    this.ended = true;
    this.endTime = endTime;
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(): void {}
}

/** A tracer that keeps its spans in memory; `startActiveSpan` makes its span the parent of spans started inside. */
class RecordingTracer implements Tracer {
  readonly spans: RecordedSpan[] = [];
  private active: RecordedSpan | undefined;

  startSpan(name: string, options: SpanOptions = {}): Span {
    const span = new RecordedSpan(name, options, this.active);
    this.spans.push(span);
    return span;
  }
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest.at(-1) as F;
    const options = rest.length > 1 ? (rest[0] as SpanOptions) : {};
    const span = this.startSpan(name, options) as RecordedSpan;
    const previous = this.active;
    this.active = span;
    try {
      return fn(span) as ReturnType<F>;
    } finally {
      this.active = previous;
    }
  }
}

const request: LlmRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };

describe('recordSpans', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  it('exports each measured request as a CLIENT span with the GenAI attributes and scheduler times', () => {
    const tracer = new RecordingTracer();
    const registry = new LatencyRegistry({ scheduler: testScheduler });
    const exporting = recordSpans(registry, { tracer, provider: 'openai' });
    const values = { a: textEvent('Hi'), u: usageEvent({ prompt_tokens: 12, completion_tokens: 3 }), f: finishEvent('stop') };

    testScheduler.run(({ cold }) => {
      const ok = withMiddleware(() => cold('  250ms a 99ms u f|', values), measure({ registry }));
      const failing = withMiddleware(() => cold('  40ms #', undefined, new RxllmError('rate-limited', 'Slow down.')), measure({ registry }));
      ok(request, { step: 'summary' }).subscribe();
      failing(request, { step: 'summary' }).subscribe({ error: () => undefined });
    });
    exporting.unsubscribe();

    expect(tracer.spans.map((span) => span.name)).toEqual(['chat gpt-4o-mini', 'chat gpt-4o-mini']);
    const [failed, succeeded] = [tracer.spans[0]!, tracer.spans[1]!];
    expect(succeeded.options).toMatchObject({ kind: 2, startTime: 0 });
    // `a` at 250 takes a frame; `u` at 350, `f` at 351, completion at 352.
    expect(succeeded.endTime).toBe(352);
    expect(succeeded.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.provider.name': 'openai',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 3,
      'gen_ai.response.time_to_first_chunk': 0.25,
      'rxllm.step': 'summary',
      'rxllm.outcome': 'ok',
    });
    expect(succeeded.events).toEqual([{ name: 'gen_ai.first_token', time: 250 }]);
    expect(succeeded.status).toBeUndefined();

    expect(failed.attributes).toMatchObject({ 'error.type': 'rate-limited', 'rxllm.outcome': 'error' });
    expect(failed.attributes).not.toHaveProperty('gen_ai.response.time_to_first_chunk');
    expect(failed.status).toEqual({ code: 2, message: 'rate-limited' });
    expect(failed.endTime).toBe(40);
  });

  it('stops exporting when unsubscribed', () => {
    const tracer = new RecordingTracer();
    const registry = new LatencyRegistry();
    recordSpans(registry, { tracer }).unsubscribe();
    registry.record({ step: 's', model: 'm', start: 0, end: 1, outcome: 'ok', outputTokens: 0, outputTokensFrom: 'counted', finishReasons: [] });
    expect(tracer.spans).toEqual([]);
  });

  it('does nothing, and throws nothing, with the API but no SDK registered', () => {
    const registry = new LatencyRegistry();
    const tracer = trace.getTracer('rxllm'); // the API's no-op tracer
    const exporting = recordSpans(registry, { tracer });
    expect(() =>
      registry.record({ step: 's', model: 'm', start: 0, firstToken: 1, end: 2, outcome: 'ok', outputTokens: 1, outputTokensFrom: 'counted', finishReasons: [] }),
    ).not.toThrow();
    expect(() => timelineSpans([{ name: 'a', start: 0, end: 1, status: 'ok' }], { tracer })).not.toThrow();
    exporting.unsubscribe();
  });

  it('loads without @opentelemetry/api installed: only its types are imported', () => {
    jest.isolateModules(() => {
      jest.doMock('@opentelemetry/api', () => {
        throw new Error('Cannot find module @opentelemetry/api');
      });
      expect(() => require('../../src/metrics/otel')).not.toThrow();
    });
  });
});

describe('timelineSpans', () => {
  it('exports a run as a parent span with one child per node, at the nodes own times', () => {
    const tracer = new RecordingTracer();
    const rows: TimelineRow[] = [
      { name: 'classify', start: 1000, firstToken: 1090, end: 1180, status: 'ok', critical: true },
      { name: 'summary', start: 1180, firstToken: 1400, end: 2200, status: 'ok', critical: true },
      { name: 'docs', start: 1180, end: 1900, status: 'error', detail: 'timeout' },
    ];
    timelineSpans(rows, { tracer, name: 'support-reply', attributes: { 'app.ticket': 4821 } });

    const [run, ...nodes] = tracer.spans;
    expect(run).toMatchObject({ name: 'support-reply', parent: undefined, endTime: 2200, ended: true });
    expect(run!.options.startTime).toBe(1000);
    expect(run!.attributes).toEqual({ 'rxllm.nodes': 3, 'app.ticket': 4821 });
    expect(nodes.map((span) => [span.name, span.parent, span.options.startTime, span.endTime])).toEqual([
      ['classify', run, 1000, 1180],
      ['summary', run, 1180, 2200],
      ['docs', run, 1180, 1900],
    ]);
    expect(nodes[1]!.attributes).toEqual({ 'rxllm.step': 'summary', 'rxllm.status': 'ok', 'rxllm.critical': true, 'gen_ai.response.time_to_first_chunk': 0.22 });
    expect(nodes[1]!.events).toEqual([{ name: 'gen_ai.first_token', time: 1400 }]);
    expect(nodes[2]!.status).toEqual({ code: 2, message: 'timeout' });
  });

  it('exports nothing for an empty timeline', () => {
    const tracer = new RecordingTracer();
    timelineSpans([], { tracer });
    expect(tracer.spans).toEqual([]);
  });
});
