import { concat, defer, finalize, NEVER, of, Subject, throwError } from 'rxjs';
import { RxllmError } from '../../src/core/errors';
import { toServerSentEventsResponse } from '../../src/node/toServerSentEventsResponse';
import { waitFor } from '../helpers/waitFor';

const decoder = new TextDecoder();

/** The body subscribes on its first pull, which the stream makes once its start has settled (a microtask later). */
async function subscribed(source: { readonly observed: boolean }): Promise<void> {
  await waitFor(() => source.observed, 'the body subscribing to the source on its first pull');
  expect(source.observed).toBe(true);
}

describe('toServerSentEventsResponse', () => {
  it('is a 200 event-stream Response with the same frames as toServerSentEvents', async () => {
    const response = toServerSentEventsResponse(of({ n: 1 }, { n: 2 }), { headers: { 'x-run': '7' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(response.headers.get('x-run')).toBe('7');
    expect(await response.text()).toBe('id: 1\ndata: {"n":1}\n\nid: 2\ndata: {"n":2}\n\nid: 3\nevent: done\ndata: {}\n\n');
  });

  it('writes the error event on a source error', async () => {
    const response = toServerSentEventsResponse(throwError(() => new RxllmError('server', '500 upstream down', { status: 500 })));
    expect(await response.text()).toBe('id: 1\nevent: error\ndata: {"code":"server","message":"500 upstream down","status":500}\n\n');
  });

  it('subscribes only when the body is first read, and cancelling the body unsubscribes the source', async () => {
    let subscribed = 0;
    let unsubscribed = false;
    const source = new Subject<string>();
    const response = toServerSentEventsResponse(
      defer(() => {
        subscribed++;
        return concat(of('hello'), source);
      }).pipe(finalize(() => (unsubscribed = true))),
    );
    await new Promise((resolve) => setTimeout(resolve, 10)); // a quiet period before a negative check: time for an eager subscribe
    expect(subscribed).toBe(0);

    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe('id: 1\ndata: "hello"\n\n');
    expect(source.observed).toBe(true);

    await reader.cancel();
    expect(unsubscribed).toBe(true);
    expect(source.observed).toBe(false);
    expect(subscribed).toBe(1);
  });

  it("hands a frame over only when the reader asks; whenSlow 'latest' keeps the newest meanwhile", async () => {
    const source = new Subject<number>();
    const reader = toServerSentEventsResponse(source, { whenSlow: 'latest', keepAliveMs: false }).body!.getReader();
    const firstRead = reader.read();
    await subscribed(source);
    source.next(1);
    expect(decoder.decode((await firstRead).value)).toBe('id: 1\ndata: 1\n\n');
    // The reader has not asked again: 2, 3 and 4 wait, and only the newest is kept.
    source.next(2);
    source.next(3);
    source.next(4);
    source.complete();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += decoder.decode(chunk.value);
    expect(rest).toBe('id: 4\ndata: 4\n\nid: 5\nevent: done\ndata: {}\n\n');
  });

  it("whenSlow 'buffer': past maxBufferedBytes the body errors (overloaded) and the source is unsubscribed", async () => {
    const source = new Subject<string>();
    const reader = toServerSentEventsResponse(concat(source, NEVER), { maxBufferedBytes: 100, keepAliveMs: false }).body!.getReader();
    const firstRead = reader.read();
    await subscribed(source);
    source.next('a');
    await firstRead;
    for (let i = 0; i < 10; i++) source.next('0123456789'.repeat(2));
    expect(source.observed).toBe(false);
    await expect(reader.read()).rejects.toMatchObject({ code: 'overloaded' });
  });

  it('rejects bad options with invalid-config', () => {
    expect(() => toServerSentEventsResponse(of(1), { keepAliveMs: -5 })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });
});
