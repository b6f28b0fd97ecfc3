import { lastValueFrom } from 'rxjs';
import {
  codeForStatus,
  describeCause,
  errorFromHttpResponse,
  failedResponse,
  responseDetails,
  readableHeaders,
  responseText,
  retryAfterFromHeaders,
  unreachable,
} from '../../src/transport/httpError';
import { chunkedResponse } from '../helpers/chunkedFetch';

describe('codeForStatus', () => {
  it.each([
    [401, 'auth'],
    [403, 'auth'],
    [400, 'bad-request'],
    [404, 'bad-request'],
    [422, 'bad-request'],
    [429, 'rate-limited'],
    [500, 'server'],
    [502, 'server'],
    [503, 'server'],
    [504, 'server'],
    [408, 'http'],
    [409, 'http'],
    [418, 'http'],
  ])('%i → %s', (status, code) => {
    expect(codeForStatus(status)).toBe(code);
  });
});

describe('retryAfterFromHeaders', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  it.each([
    ['retry-after-ms', { 'retry-after-ms': '1500' }, 1500],
    ['retry-after-ms over retry-after', { 'retry-after-ms': '250', 'retry-after': '9' }, 250],
    ['retry-after in seconds', { 'retry-after': '2' }, 2000],
    ['retry-after in fractional seconds', { 'retry-after': '0.5' }, 500],
    ['retry-after as an HTTP date', { 'retry-after': 'Wed, 21 Oct 2015 07:28:30 GMT' }, 30_000],
    ['an HTTP date in the past', { 'retry-after': 'Wed, 21 Oct 2015 07:27:00 GMT' }, 0],
    ['a negative wait', { 'retry-after': '-3' }, 0],
    ['a malformed retry-after-ms, falling back to retry-after', { 'retry-after-ms': 'soon', 'retry-after': '1' }, 1000],
    ['garbage', { 'retry-after': 'later, maybe' }, undefined],
    ['an empty header', { 'retry-after': ' ' }, undefined],
    ['no header', {}, undefined],
  ])('%s', (_name, headers, expected) => {
    expect(retryAfterFromHeaders(new Headers(headers), now)).toBe(expected);
  });
});

describe('errorFromHttpResponse', () => {
  it('keeps the provider message, code, request id and wait of an OpenAI error body', () => {
    const headers = new Headers({ 'x-request-id': 'req_abc', 'retry-after': '3' });
    const body = JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } });

    const error = errorFromHttpResponse(429, headers, body, 0);

    expect(error.toJSON()).toEqual({
      name: 'RxllmError',
      code: 'rate-limited',
      message: '429 Rate limit reached (rate limited; the server asks to wait 3000 ms)',
      status: 429,
      requestId: 'req_abc',
      retryAfterMs: 3000,
      providerCode: 'rate_limit_exceeded',
      providerType: 'requests',
      headers: { 'x-request-id': 'req_abc', 'retry-after': '3' },
      raw: body,
      tokensEmitted: false,
    });
  });

  it('keeps the provider type and param as their own fields', () => {
    const body = JSON.stringify({ error: { message: "Invalid type for 'max_tokens'", type: 'invalid_request_error', param: 'max_tokens', code: 'invalid_type' } });
    const error = errorFromHttpResponse(400, new Headers(), body);
    expect([error.providerCode, error.providerType, error.providerParam]).toEqual(['invalid_type', 'invalid_request_error', 'max_tokens']);
  });

  it('a 429 with insufficient_quota is quota-exceeded, with advice about billing instead of "retry later"', () => {
    const body = JSON.stringify({
      error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' },
    });
    const error = errorFromHttpResponse(429, new Headers({ 'retry-after': '20' }), body, 0);
    expect(error.code).toBe('quota-exceeded');
    expect(error.providerCode).toBe('insufficient_quota');
    expect(error.message).toContain('check the plan and billing details');
    expect(error.message).toContain('retrying will not help');
    expect(error.message).not.toContain('retry later');
    // The code alone, or the type alone, is enough (providers differ in which they fill).
    const byType = JSON.stringify({ error: { message: 'quota', type: 'insufficient_quota', code: null } });
    expect(errorFromHttpResponse(429, new Headers(), byType).code).toBe('quota-exceeded');
    const rateLimit = JSON.stringify({ error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } });
    expect(errorFromHttpResponse(429, new Headers(), rateLimit).code).toBe('rate-limited');
  });

  it('falls back to the error type when the code is null', () => {
    const body = JSON.stringify({ error: { message: 'boom', type: 'server_error', code: null } });
    expect(errorFromHttpResponse(500, new Headers(), body).providerCode).toBe('server_error');
  });

  it('reads an error body without an `error` member (vLLM)', () => {
    const body = JSON.stringify({ object: 'error', message: 'The model `x` does not exist.', type: 'NotFoundError', param: null, code: 404 });
    const error = errorFromHttpResponse(404, new Headers(), body);
    expect(error.code).toBe('bad-request');
    expect(error.message).toMatch(/^404 The model `x` does not exist\. \(/);
    expect(error.providerCode).toBe('404');
  });

  it('reads an `error` that is a string (Ollama)', () => {
    const error = errorFromHttpResponse(404, new Headers(), '{"error":"model \\"llama9\\" not found, try pulling it first"}');
    expect(error.message).toContain('404 model "llama9" not found, try pulling it first');
    expect(error.providerCode).toBeUndefined();
  });

  it('uses a text body as the message, and says so when there is none', () => {
    expect(errorFromHttpResponse(502, new Headers(), '  Bad Gateway\n').message).toBe('502 Bad Gateway (server error; retrying usually helps)');
    expect(errorFromHttpResponse(503, new Headers(), '').message).toBe('503 no message (server error; retrying usually helps)');
  });

  it('says what to do for each kind of failure', () => {
    expect(errorFromHttpResponse(401, new Headers(), 'x').message).toContain('check the API key');
    expect(errorFromHttpResponse(404, new Headers(), 'x').message).toContain('check the model name');
    expect(errorFromHttpResponse(429, new Headers(), 'x').message).toContain('retry later');
    expect(errorFromHttpResponse(409, new Headers(), 'conflict').message).toBe('409 conflict');
  });

  it('keeps at most 2000 characters of the raw body and 500 of a text message', () => {
    const body = 'x'.repeat(5000);
    const error = errorFromHttpResponse(500, new Headers(), body);
    expect(error.raw).toHaveLength(2000);
    expect(error.message).toContain('x'.repeat(500));
    expect(error.message).not.toContain('x'.repeat(501));
  });
});

describe('failedResponse', () => {
  it('reads the body and errors with the error for the status, emitting nothing', async () => {
    const response = new Response('{"error":{"message":"slow down","code":"rate_limit"}}', { status: 429, headers: { 'retry-after': '2' } });
    await expect(lastValueFrom(failedResponse(response))).rejects.toMatchObject({
      code: 'rate-limited',
      status: 429,
      retryAfterMs: 2000,
      providerCode: 'rate_limit',
      tokensEmitted: false,
    });
  });

  it('is cold: nothing is read before subscribe', () => {
    const response = new Response('boom', { status: 500 });
    failedResponse(response);
    expect(response.bodyUsed).toBe(false);
  });
});

describe('responseText', () => {
  it('is connection-lost, with the status and the cause, when the body fails mid-read', async () => {
    const reset = new TypeError('terminated', { cause: new Error('other side closed') });
    const response = chunkedResponse([new TextEncoder().encode('{"partial":')], { status: 200, failWith: reset });
    await expect(responseText(response)).rejects.toMatchObject({
      code: 'connection-lost',
      status: 200,
      cause: reset,
      tokensEmitted: false,
      message: expect.stringContaining('terminated (other side closed)'),
    });
  });
});

describe('unreachable', () => {
  const refusal = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' });

  it('a refused connection (ECONNREFUSED in the cause) is connection-refused: names the URL and why, nothing emitted', () => {
    const cause = new TypeError('fetch failed', { cause: refusal('127.0.0.1:9') });
    expect(unreachable('http://127.0.0.1:9/v1/chat/completions', cause)).toMatchObject({
      code: 'connection-refused',
      cause,
      tokensEmitted: false,
      message: 'Nothing accepted the connection to http://127.0.0.1:9/v1/chat/completions (ECONNREFUSED): no server is listening there. Check the URL and that the server is running.',
    });
  });

  it('finds the refusal under the SDK’s wrapper and in an AggregateError of one refusal per address (localhost)', () => {
    const both = Object.assign(new AggregateError([refusal('::1:9'), refusal('127.0.0.1:9')], ''), { code: 'ECONNREFUSED' });
    const sdk = new Error('Connection error.', { cause: new TypeError('fetch failed', { cause: both }) });
    expect(unreachable('http://localhost:9/v1', sdk).code).toBe('connection-refused');
    const noCode = new AggregateError([refusal('::1:9'), refusal('127.0.0.1:9')], '');
    expect(unreachable('http://localhost:9/v1', new TypeError('fetch failed', { cause: noCode })).code).toBe('connection-refused');
  });

  it('anything else before a response (DNS, reset, a fetch that threw) stays connection-lost', () => {
    const dns = new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' }) });
    expect(unreachable('http://nowhere.invalid/v1', dns)).toMatchObject({
      code: 'connection-lost',
      message: 'Could not reach http://nowhere.invalid/v1: fetch failed (getaddrinfo ENOTFOUND nowhere.invalid). Check the URL and that the server is up.',
    });
    const mixed = new AggregateError([refusal('::1:9'), Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' })], '');
    expect(unreachable('http://localhost:9/v1', mixed).code).toBe('connection-lost');
    expect(unreachable('http://x/v1', new Error('boom')).code).toBe('connection-lost');
  });
});

describe('responseDetails and describeCause', () => {
  it('give the status and request id of a response, and the message of an error with its cause', () => {
    expect(responseDetails(new Response(null, { status: 201, headers: { 'x-request-id': 'req_1' } }))).toEqual({
      status: 201,
      requestId: 'req_1',
      headers: { 'x-request-id': 'req_1' },
    });
    expect(responseDetails(new Response(null, { status: 200 }))).toEqual({ status: 200, headers: {} });
    expect(describeCause(new Error('outer'))).toBe('outer');
    expect(describeCause('plain')).toBe('plain');
  });
});

describe('readableHeaders', () => {
  it('is a frozen record with lower-cased names, without credentials or anything named like a key or token', () => {
    const headers = new Headers({
      'X-Should-Retry': 'false',
      'Retry-After': '2',
      'x-ratelimit-remaining-tokens': '120',
      'x-ratelimit-reset-requests': '1s',
      'openai-organization': 'org-abc',
      Authorization: 'Bearer sk-secret',
      'Proxy-Authorization': 'Basic abc',
      Cookie: 'a=b',
      'Set-Cookie': '__cf_bm=abc; path=/',
      'api-key': 'azure-key',
      'X-Api-Key': 'anthropic-key',
      'x-goog-api-key': 'google-key',
      'x-amz-security-token': 'aws-token',
      'x-client-secret': 's',
    });

    const record = readableHeaders(headers);

    expect(record).toEqual({
      'x-should-retry': 'false',
      'retry-after': '2',
      'x-ratelimit-remaining-tokens': '120',
      'x-ratelimit-reset-requests': '1s',
      'openai-organization': 'org-abc',
    });
    expect(Object.isFrozen(record)).toBe(true);
  });

  it('is on every error from a response, and never holds an echoed credential', () => {
    const error = errorFromHttpResponse(401, new Headers({ 'x-should-retry': 'false', 'set-cookie': 'session=1', authorization: 'Bearer sk-x' }), 'no');
    expect(error.headers).toEqual({ 'x-should-retry': 'false' });
    expect(JSON.stringify(error.toJSON())).not.toContain('sk-x');
  });
});
