import { lastValueFrom, toArray } from 'rxjs';
import { eventsFromResponse } from '../../src/transport/eventsFromResponse';
import { chunkedResponse } from '../helpers/chunkedFetch';
import { failure } from '../helpers/transportContract';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('eventsFromResponse', () => {
  it('a 200 with no body → incomplete-stream', async () => {
    const { error } = await failure(eventsFromResponse(new Response(null, { status: 200 })));
    expect(error).toMatchObject({ code: 'incomplete-stream', status: 200 });
  });

  it('an error status → the HTTP error, with the request id', async () => {
    const response = new Response('{"error":{"message":"nope","type":"invalid_request_error","code":"bad"}}', {
      status: 400,
      headers: { 'x-request-id': 'req_9' },
    });
    const { error } = await failure(eventsFromResponse(response));
    expect(error).toMatchObject({ code: 'bad-request', status: 400, requestId: 'req_9', providerCode: 'bad', tokensEmitted: false });
  });

  it('an error status whose body fails mid-read → connection-lost', async () => {
    const response = chunkedResponse([bytes('{"error":')], { status: 500, failWith: new TypeError('terminated') });
    const { error } = await failure(eventsFromResponse(response));
    expect(error).toMatchObject({ code: 'connection-lost', status: 500 });
  });

  it('an event stream cut off mid-answer → an error carrying the response headers (without secrets) and the text so far', async () => {
    const response = chunkedResponse([bytes('data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n')], {
      headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_7', 'x-ratelimit-remaining-requests': '41', 'set-cookie': 'session=1' },
      failWith: new TypeError('terminated'),
    });
    const { events, error } = await failure(eventsFromResponse(response));
    expect(events).toEqual([{ type: 'text', choice: 0, text: 'Hel' }]);
    expect(error).toMatchObject({ code: 'connection-lost', status: 200, requestId: 'req_7', partialText: 'Hel' });
    expect(error.headers).toEqual({ 'content-type': 'text/event-stream', 'x-request-id': 'req_7', 'x-ratelimit-remaining-requests': '41' });
  });

  it('an event stream that ends well never copies its response headers (they are read for an error only)', async () => {
    const forEach = jest.spyOn(Headers.prototype, 'forEach');
    try {
      const response = chunkedResponse([bytes('data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')], {
        headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_8' },
      });
      expect(await lastValueFrom(eventsFromResponse(response).pipe(toArray()))).toEqual([
        { type: 'text', choice: 0, text: 'Hi' },
        { type: 'finish', choice: 0, reason: 'stop' },
      ]);
      expect(forEach).not.toHaveBeenCalled();
    } finally {
      forEach.mockRestore();
    }
  });

  it('a JSON answer with no content-type is still read as JSON', async () => {
    const response = chunkedResponse([bytes('{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}')]);
    expect(await lastValueFrom(eventsFromResponse(response).pipe(toArray()))).toEqual([
      { type: 'text', choice: 0, text: 'ok' },
      { type: 'finish', choice: 0, reason: 'stop' }, // a whole answer without finish_reason has stopped
    ]);
  });

  it('a JSON answer with no choices → incomplete-stream', async () => {
    const response = new Response('{"id":"x","choices":[]}', { headers: { 'content-type': 'application/json' } });
    const { error } = await failure(eventsFromResponse(response));
    expect(error).toMatchObject({ code: 'incomplete-stream', raw: '{"id":"x","choices":[]}' });
  });

  it('a body that is neither JSON nor an event stream → malformed-event naming the content type', async () => {
    const response = new Response('<html>hello</html>', { headers: { 'content-type': 'text/html' } });
    const { error } = await failure(eventsFromResponse(response));
    expect(error.code).toBe('malformed-event');
    expect(error.message).toContain('text/html');
    expect(error.raw).toBe('<html>hello</html>');
  });

  it('errors from a JSON body carry the response details (status, request id, readable headers), read when the error is made', async () => {
    const headers = { 'content-type': 'application/json', 'x-request-id': 'req_7', 'x-ratelimit-remaining-requests': '9', authorization: 'Bearer sk-x' };
    const inBody = await failure(eventsFromResponse(new Response('{"error":{"message":"overloaded","code":"busy"}}', { headers })));
    expect(inBody.error).toMatchObject({ code: 'stream-error', status: 200, requestId: 'req_7', providerCode: 'busy' });
    expect(inBody.error.headers).toEqual({ 'content-type': 'application/json', 'x-request-id': 'req_7', 'x-ratelimit-remaining-requests': '9' });
    const unparsable = await failure(eventsFromResponse(new Response('{"choices":', { headers })));
    expect(unparsable.error).toMatchObject({ code: 'malformed-event', status: 200, requestId: 'req_7' });
  });
});
