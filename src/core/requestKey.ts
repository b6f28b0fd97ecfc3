import type { RequestContext } from './context.js';
import type { RxllmError } from './errors.js';
import type { LlmRequest } from './request.js';
import { sha256 } from '../internal/sha256.js';
import { stableStringify } from '../internal/stableStringify.js';

/**
 * What separates answers that must never be shared: a tenant, a credential, an
 * endpoint. A string, or flat named parts (`{ tenant: 'acme', baseURL }`).
 * Two requests share a key only if their scopes are equal too.
 *
 * `dedupe()` and `cache()` take it from the request's context (its `scope` attribute, `{}` when unset):
 * `llm(request, { attributes: { scope: 'acme' } })`.
 */
export type RequestScope = string | { readonly [part: string]: string | number | boolean | undefined };

/**
 * The scope a request's `dedupe()` and `cache()` key is computed with: its
 * context's `scope` attribute (`{ attributes: { scope: 'acme' } }`), or `{}`
 * when it has none. Nothing else in the context (step, lane, deadline, other
 * attributes) changes a key: the same question from two steps or two lanes is
 * one answer. The scope does, by design: it keeps tenants apart.
 *
 * @example
 * ```ts
 * requestKey(request, scopeOf({ lane: 'background', attributes: { scope: 'acme' } })) ===
 *   requestKey(request, 'acme'); // true
 * ```
 */
export function scopeOf(context: RequestContext | undefined): RequestScope {
  return context?.attributes?.['scope'] ?? {};
}

/**
 * The canonical key of a request: equal for requests that must get the same
 * answer, different for everything else. Used by `dedupe()`, `cache()` and
 * `prefetcher()`.
 *
 * The key is the SHA-256 (hex) of a stable JSON text of `{ v, scope, request }`:
 * object keys sorted at every depth, `undefined` fields dropped, arrays kept in
 * order. What goes in, and why:
 *
 * - **Everything in the request except `stream`**: model, messages, every
 *   sampling, format and tool parameter, `stream_options` (it decides whether a
 *   usage event arrives), `user`, and unknown vendor fields (they may change the
 *   answer, so they are kept). `stream` is left out because rxllm turns a
 *   streamed and a non-streamed answer into the same events.
 * - **`user` stays in**: two end users never share an answer by accident. To
 *   share across users deliberately, pass your own key function to the
 *   middleware, e.g. `(r) => requestKey({ ...r, user: undefined }, scope)`.
 * - **`scope`**, which is required so that leaving it out is a decision: pass
 *   the tenant, the credential (or a name for it) and the base URL whenever one
 *   store or middleware serves more than one of them. The credential is hashed
 *   with the rest and never appears in the key. The middleware take it from the
 *   request context's `scope` attribute (`{}` when unset).
 * - **`v`**, the key format version, so a shared store never confuses keys
 *   computed by an older rxllm.
 *
 * `null` is a value, not an absence: `{ temperature: null }` and `{}` give
 * different keys (a missed share, never a wrong one).
 *
 * @throws {@link RxllmError} `invalid-request` when the request contains a
 * circular reference or a BigInt, which have no JSON form.
 *
 * @example
 * ```ts
 * const key = requestKey(request, { tenant: 'acme', baseURL: 'https://api.openai.com/v1' });
 * ```
 */
export function requestKey(request: LlmRequest, scope: RequestScope): string {
  // dedupe() and cache() in one stack each key the same request object: the second is a lookup
  // (a key costs ~20 µs of hashing). Requests are not changed once sent, as parseRequest assumes too.
  const known = keys.get(request);
  if (known !== undefined && sameScope(known.scope, scope)) return known.key;
  const { stream: _stream, ...answerShaping } = request;
  const key = sha256(stableStringify({ v: KEY_VERSION, scope, request: answerShaping }));
  keys.set(request, { scope, key });
  return key;
}

const keys = new WeakMap<LlmRequest, { scope: RequestScope; key: string }>();

/** The same scope for certain: the same value, the same string, or both empty (what scopeOf gives without one). */
function sameScope(a: RequestScope, b: RequestScope): boolean {
  if (a === b) return true;
  if (typeof a === 'string' || typeof b === 'string') return false;
  return isEmpty(a) && isEmpty(b);
}

function isEmpty(scope: object): boolean {
  for (const _ in scope) return false;
  return true;
}

/**
 * True when identical copies of the request may get different answers: the
 * temperature is above 0 (OpenAI's default is 1, so an unset temperature counts)
 * or more than one choice is asked for. Sharing such a request gives every
 * caller the same sample; `dedupe()` and `cache()` take a `sampled` option for it.
 */
export function isSampledRequest(request: LlmRequest): boolean {
  return (request.temperature ?? 1) > 0 || (request.n ?? 1) > 1;
}

const KEY_VERSION = 1;
