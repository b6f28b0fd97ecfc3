import { isRxllmError, RxllmError } from '../../src/core/errors';

describe('RxllmError', () => {
  it('carries a code, a message, a cause and only the details it was given', () => {
    const cause = new TypeError('socket hang up');
    const error = new RxllmError('connection-lost', 'The connection was lost mid-answer. Retry the request.', {
      cause,
      status: 200,
      partialText: 'Hel',
      tokensEmitted: true,
      retryAfterMs: undefined,
    });

    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('RxllmError');
    expect(error.code).toBe('connection-lost');
    expect(error.cause).toBe(cause);
    expect(error.status).toBe(200);
    expect(Object.keys(error)).not.toContain('retryAfterMs');
    expect(Object.keys(error)).not.toContain('requestId');
  });

  it('has no cause property when none was given', () => {
    expect('cause' in new RxllmError('timeout', 'Too slow.')).toBe(false);
  });

  it('with() copies the error with more details, keeping code, message, cause and stack', () => {
    const cause = new Error('reset');
    const original = new RxllmError('server', '503 overloaded', { status: 503, cause, requestId: 'req_1' });

    const copy = original.with({ partialText: 'Hi', tokensEmitted: true });

    expect(copy).not.toBe(original);
    expect(copy.code).toBe('server');
    expect(copy.message).toBe('503 overloaded');
    expect(copy.cause).toBe(cause);
    expect(copy.stack).toBe(original.stack);
    expect(copy).toMatchObject({ status: 503, requestId: 'req_1', partialText: 'Hi', tokensEmitted: true });
    expect(original.partialText).toBeUndefined(); // the original is unchanged
    expect(original.with({ status: 502 }).status).toBe(502); // later details win
  });

  it('toJSON() is a plain object of name, code, message and the defined details (no cause)', () => {
    const error = new RxllmError('rate-limited', '429 slow down', {
      status: 429,
      retryAfterMs: 1500,
      providerCode: 'rate_limit_exceeded',
      cause: new Error('x'),
    });

    expect(error.toJSON()).toEqual({
      name: 'RxllmError',
      code: 'rate-limited',
      message: '429 slow down',
      status: 429,
      retryAfterMs: 1500,
      providerCode: 'rate_limit_exceeded',
    });
    expect(JSON.parse(JSON.stringify(error))).toEqual(error.toJSON());
  });

  it('carries the provider type and param, the readable headers and the limit, through with() and toJSON()', () => {
    const headers = Object.freeze({ 'x-should-retry': 'false', 'retry-after': '2' });
    const error = new RxllmError('quota-exceeded', '429 quota', {
      status: 429,
      providerCode: 'insufficient_quota',
      providerType: 'insufficient_quota',
      providerParam: 'model',
      headers,
    });
    const timeout = new RxllmError('timeout', 'no headers', { limit: 'headers' });

    expect(error.with({ tokensEmitted: false })).toMatchObject({ providerType: 'insufficient_quota', providerParam: 'model', headers });
    expect(error.with({}).headers).toBe(headers);
    expect(error.toJSON()).toEqual({
      name: 'RxllmError',
      code: 'quota-exceeded',
      message: '429 quota',
      status: 429,
      providerCode: 'insufficient_quota',
      providerType: 'insufficient_quota',
      providerParam: 'model',
      headers: { 'x-should-retry': 'false', 'retry-after': '2' },
    });
    expect(timeout.with({ tokensEmitted: false }).limit).toBe('headers');
  });
});

describe('isRxllmError', () => {
  it('is true for an RxllmError', () => {
    expect(isRxllmError(new RxllmError('auth', '401'))).toBe(true);
  });

  it('is true for an error from another copy of the package (the brand, not the prototype)', () => {
    // What a second installed copy of rxllm produces: its own class, with the same brand.
    class OtherCopyRxllmError extends Error {
      readonly isRxllmError = true as const;
      constructor(readonly code: string, message: string) {
        super(message);
      }
    }
    const foreign = new OtherCopyRxllmError('rate-limited', '429');

    expect(foreign instanceof RxllmError).toBe(false);
    expect(isRxllmError(foreign)).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('x')],
    ['null', null],
    ['a string', 'isRxllmError'],
    ['a brand without a code', Object.assign(new Error('x'), { isRxllmError: true })],
    ['a truthy but not true brand', Object.assign(new Error('x'), { isRxllmError: 'yes', code: 'auth' })],
  ])('is false for %s', (_name, value) => {
    expect(isRxllmError(value)).toBe(false);
  });
});
