import { lastValueFrom, map, of, type Observable } from 'rxjs';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import { measure } from '../../src/middleware/measure';
import { retry } from '../../src/middleware/retry';
import { sseTransport } from '../../src/transport/sse';
import { startLocalServer, type LocalServer } from '../helpers/localServer';
import type { RequestContext } from '../../src/core/context';
import { TestScheduler } from 'rxjs/testing';
import type { LlmEvent } from '../../src/core/events';
import { parseRequest, type LlmRequest } from '../../src/core/request';
import { withMiddleware, type Middleware, type Transport } from '../../src/core/transport';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

/** A middleware that records when it sees the request and tags the text it passes back. */
function tagging(name: string, seen: string[]): Middleware {
  return (next) => (req) => {
    seen.push(name);
    return next({ ...req, model: `${req.model}>${name}` }).pipe(
      map((event): LlmEvent => (event.type === 'text' ? { ...event, text: `${event.text}<${name}` } : event)),
    );
  };
}

describe('withMiddleware', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('makes the first middleware the outermost: it sees the request first and each event last', () => {
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('  -a-|', { a: { type: 'text', choice: 0, text: 'x' } as LlmEvent });
      const upstreamSubs = '   ^--!';
      const expected = '       -a-|';

      const seen: string[] = [];
      let modelAtTransport = '';
      const transport: Transport = (req): Observable<LlmEvent> => {
        modelAtTransport = req.model;
        return upstream;
      };

      expectObservable(withMiddleware(transport, tagging('outer', seen), tagging('inner', seen))(request)).toBe(expected, {
        a: { type: 'text', choice: 0, text: 'x<inner<outer' },
      });
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
      scheduler.flush();
      expect(seen).toEqual(['outer', 'inner']);
      expect(modelAtTransport).toBe('m>outer>inner');
    });
  });

  it('with no middleware is the transport itself', () => {
    const transport: Transport = () => {
      throw new Error('not called');
    };
    expect(withMiddleware(transport)).toBe(transport);
  });
});

describe('withMiddleware validation and context', () => {
  const text = (t: string): LlmEvent => ({ type: 'text', choice: 0, text: t });

  it('validates once at the top: an invalid request errors on subscribe and reaches no middleware and no transport', () => {
    const seen: string[] = [];
    let sent = 0;
    const transport: Transport = () => {
      sent++;
      throw new Error('not called');
    };
    const llm = withMiddleware(transport, tagging('outer', seen));
    const bad = { model: 'm', messages: [{ role: 'nobody', content: 'hi' }] } as unknown as LlmRequest;
    const observable = llm(bad); // nothing happens before subscribe
    let error: unknown;
    observable.subscribe({ error: (e: unknown) => (error = e) });
    expect(error).toMatchObject({ code: 'invalid-request', path: 'messages.0.role' });
    expect(seen).toEqual([]);
    expect(sent).toBe(0);
  });

  it('passes the context beside the request to the transport, untouched, and never into the request', () => {
    let got: { request?: LlmRequest; context?: RequestContext } = {};
    const transport: Transport = (req, context) => {
      got = { request: req, context };
      return of(text('x'));
    };
    const passThrough: Middleware = (next) => (req, context) => next(req, context);
    const context: RequestContext = { step: 'summary', lane: 'background', attributes: { tenant: 'a' }, deadline: 5 };
    withMiddleware(transport, passThrough)(request, context).subscribe();
    expect(got.context).toBe(context);
    expect(got.request).toEqual(request);
    expect(Object.keys(got.request!)).not.toContain('step');
  });

  it('marks the validated request, so a second parseRequest returns the same object', () => {
    const valid = parseRequest({ ...request });
    expect(parseRequest(valid)).toBe(valid);
    expect(parseRequest({ ...valid })).not.toBe(valid);
  });
});

describe('an invalid request through a full stack over a real socket', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer();
  });
  afterAll(() => server.close());

  it('errors with invalid-request, is never retried, is not counted by measure(), and sends nothing', async () => {
    const registry = new LatencyRegistry();
    const retries: unknown[] = [];
    const llm = withMiddleware(
      sseTransport({ baseURL: server.baseURL }),
      retry({ maxRetries: 3, onRetry: (info) => retries.push(info) }),
      measure({ registry }),
    );
    const invalid = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 42 }] } as unknown as LlmRequest;
    const error = await lastValueFrom(llm(invalid, { step: 'summary' })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'invalid-request', path: 'messages.0.content' });
    expect(retries).toEqual([]);
    expect(registry.snapshot().steps).toEqual({});
    expect(registry.snapshot().models).toEqual({});
    expect(server.requests).toEqual([]);
  });
});
