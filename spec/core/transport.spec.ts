import { map, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
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
