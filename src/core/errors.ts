import type { StandardSchemaV1 } from '@standard-schema/spec';

/**
 * Machine-readable error codes. Every error rxllm raises carries one of these,
 * so callers branch on `error.code` rather than on message text.
 *
 * | code | meaning |
 * |---|---|
 * | `invalid-request` | the request failed validation; nothing was sent |
 * | `invalid-config` | an option passed to an rxllm function is wrong |
 * | `auth` | HTTP 401 or 403 |
 * | `bad-request` | HTTP 400, 404 or 422: the server refused the request as written |
 * | `rate-limited` | HTTP 429; `retryAfterMs` says how long the server asked to wait |
 * | `quota-exceeded` | HTTP 429 whose provider code is `insufficient_quota`: the plan or credit is used up, waiting will not help |
 * | `server` | HTTP 5xx |
 * | `http` | any other non-success status (408, 409, ...) |
 * | `stream-error` | the server reported an error inside a successful (200) response |
 * | `malformed-event` | a stream event whose data is not JSON |
 * | `incomplete-stream` | the body ended before every choice finished, or `[DONE]` came with nothing produced |
 * | `connection-refused` | nothing accepted the connection (`ECONNREFUSED`): no server listens at the URL; nothing was sent |
 * | `connection-lost` | the connection failed after it was made, or could not be made for another reason (reset, cut mid-body, DNS, TLS) |
 * | `timeout` | a time limit fired (raised by timeout middleware); `limit` says which |
 * | `invalid-output` | a step's answer did not match its schema |
 * | `overloaded` | a load limiter's queue is full: the request was rejected before it was sent |
 */
export type RxllmErrorCode =
  | 'invalid-request'
  | 'invalid-config'
  | 'auth'
  | 'bad-request'
  | 'rate-limited'
  | 'quota-exceeded'
  | 'server'
  | 'http'
  | 'stream-error'
  | 'malformed-event'
  | 'incomplete-stream'
  | 'connection-refused'
  | 'connection-lost'
  | 'timeout'
  | 'invalid-output'
  | 'overloaded';

/** The optional, structured fields an {@link RxllmError} may carry. */
export interface RxllmErrorDetails {
  /** The underlying error (a network error, an SDK error, a validation error). */
  cause?: unknown;
  /** HTTP status, when the error came from an HTTP response. */
  status?: number;
  /** The provider's request id (`x-request-id` header), when it sent one. */
  requestId?: string;
  /** How long the server asked the client to wait before retrying, in milliseconds. */
  retryAfterMs?: number;
  /** The text (choice 0) received before the error, if any. */
  partialText?: string;
  /** True when content had already been emitted downstream before the error: a retry would duplicate it. */
  tokensEmitted?: boolean;
  /**
   * The provider's own error code (`"context_length_exceeded"`, `"insufficient_quota"`, ...): the
   * error body's `code`, else its `type` when it has no code.
   */
  providerCode?: string;
  /** The provider's error type, the error body's `type` (`"invalid_request_error"`, `"server_error"`, ...). */
  providerType?: string;
  /** The request parameter the provider blames, the error body's `param` (`"messages"`, `"max_tokens"`, ...). */
  providerParam?: string;
  /**
   * The response headers a policy may read (`x-should-retry`, `retry-after`, `x-ratelimit-*`, ...), as
   * a frozen record with lower-cased names. Headers that carry credentials are left out: `authorization`,
   * `proxy-authorization`, `cookie`, `set-cookie`, and any whose name says it holds a key, token, secret
   * or session (`api-key`, `x-api-key`, `x-amz-security-token`, ...). Set on errors from an HTTP response
   * (an error status, or an error inside a 200 stream).
   */
  headers?: Readonly<Record<string, string>>;
  /** Where the problem is, for validation errors (`"messages.0.role"`). */
  path?: string;
  /**
   * The schema library's own issues, on an `invalid-output` error (a step's or `parse()`'s answer
   * that does not match its schema): Standard Schema issues, each with a `message` and a `path`,
   * plus whatever the library adds (zod's `code`, valibot's `kind` and `type`).
   */
  issues?: readonly StandardSchemaV1.Issue[];
  /** The raw text or payload the error is about (a malformed event's data, an invalid answer). */
  raw?: string;
  /** The pipeline step it happened in (set by `step()`), so a failed `parallel()` or `graph()` says which branch failed. */
  step?: string;
  /**
   * Which time limit ended the request: on a `timeout`, the limit of `timeouts()` that fired; on
   * the last attempt's error passed on by `retry()`, `'deadline'` when the request's deadline (not
   * `maxRetries` or `retryOn`) is why it was not retried.
   */
  limit?: TimeLimit;
}

/**
 * A time limit a request can run into: `timeouts()`'s four (`headers`: no response headers in time;
 * `firstToken`: no content in time; `idle`: a gap after content; `total`), and the request context's deadline.
 */
export type TimeLimit = 'headers' | 'firstToken' | 'idle' | 'total' | 'deadline';

/**
 * The one error class rxllm raises. Branch on {@link RxllmError.code}; read the
 * optional fields for details. Use {@link isRxllmError} rather than `instanceof`,
 * which fails when two copies of rxllm are installed.
 */
export class RxllmError extends Error implements RxllmErrorDetails {
  /** Brand that survives duplicate copies of the package, unlike `instanceof`. */
  readonly isRxllmError = true as const;
  /** What went wrong, machine-readable: branch on it (`rate-limited`, `timeout`, `invalid-output`, …; see {@link RxllmErrorCode}). */
  readonly code: RxllmErrorCode;
  // `declare`: no own property unless the constructor sets one (a plain field would be an own
  // `undefined` under ES2022 class fields, showing up in Object.keys and strict equality).
  declare readonly status?: number;
  declare readonly requestId?: string;
  declare readonly retryAfterMs?: number;
  declare readonly partialText?: string;
  declare readonly tokensEmitted?: boolean;
  declare readonly providerCode?: string;
  declare readonly providerType?: string;
  declare readonly providerParam?: string;
  declare readonly headers?: Readonly<Record<string, string>>;
  declare readonly path?: string;
  declare readonly issues?: readonly StandardSchemaV1.Issue[];
  declare readonly raw?: string;
  declare readonly step?: string;
  declare readonly limit?: TimeLimit;

  constructor(code: RxllmErrorCode, message: string, details: RxllmErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RxllmError';
    this.code = code;
    // Only defined fields are set, so `toEqual` comparisons and JSON output stay clean.
    for (const key of DETAIL_KEYS) {
      const value = details[key];
      if (value !== undefined) (this as Record<string, unknown>)[key] = value;
    }
  }

  /**
   * A copy of this error with more details (for example `partialText` added by a
   * layer that knows what was streamed). The code and message stay the same.
   */
  with(details: RxllmErrorDetails): RxllmError {
    const merged: RxllmErrorDetails = { cause: this.cause };
    for (const key of DETAIL_KEYS) merged[key] = this[key] as never;
    const copy = new RxllmError(this.code, this.message, { ...merged, ...details });
    copy.stack = this.stack;
    return copy;
  }

  /** A plain object for logs and `--json` output. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const key of DETAIL_KEYS) if (this[key] !== undefined) out[key] = this[key];
    return out;
  }
}

const DETAIL_KEYS = [
  'status',
  'requestId',
  'retryAfterMs',
  'partialText',
  'tokensEmitted',
  'providerCode',
  'providerType',
  'providerParam',
  'headers',
  'path',
  'issues',
  'raw',
  'step',
  'limit',
] as const satisfies readonly (keyof RxllmErrorDetails)[];

/**
 * True for any error raised by rxllm, including one from another installed copy
 * of the package (it checks a brand, not the prototype chain).
 */
export function isRxllmError(error: unknown): error is RxllmError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isRxllmError?: unknown }).isRxllmError === true &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}
