import { mergeMap } from 'rxjs';
import type { RunHelpers } from 'rxjs/testing';
import type { RequestContext } from '../../src/core/context';
import { RxllmError, type TimeLimit } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { withMiddleware, type Middleware } from '../../src/core/transport';

/** Where the stream was when a limit fired: the step's name (`draft` unless given) and what it had sent. */
export interface TimedOutAt {
  step?: string;
  /** @defaultValue false */
  tokensEmitted?: boolean;
  partialText?: string;
}

const DEADLINE_ADVICE = 'The deadline bounds the whole request, retries included: give the pipeline a later deadline, or ask for a shorter answer.';

function timeoutError(limit: TimeLimit, message: string, { tokensEmitted = false, partialText }: TimedOutAt): RxllmError {
  return new RxllmError('timeout', message, { limit, tokensEmitted, ...(partialText === undefined ? {} : { partialText }) });
}

/**
 * The errors `timeouts()` raises, written out word for word (a spec that uses them still asserts the whole
 * message): the retry and timeouts specs expect the same ones.
 */
export const timeoutErrors = {
  headers: (ms: number, at: TimedOutAt = {}) =>
    timeoutError(
      'headers',
      `No response headers from step "${at.step ?? 'draft'}" within ${ms} ms (headers limit). The endpoint did not answer: it may be down or overloaded; retry, or raise \`headers\`.`,
      at,
    ),
  firstToken: (ms: number, at: TimedOutAt = {}) =>
    timeoutError(
      'firstToken',
      `No token from step "${at.step ?? 'draft'}" within ${ms} ms (firstToken limit). The endpoint may be overloaded; retry, or raise \`firstToken\`.`,
      at,
    ),
  idle: (ms: number, at: TimedOutAt = {}) =>
    timeoutError('idle', `Step "${at.step ?? 'draft'}" sent nothing for ${ms} ms after its last event (idle limit). The stream stalled; retry, or raise \`idle\`.`, at),
  total: (ms: number, at: TimedOutAt = {}) =>
    timeoutError('total', `Step "${at.step ?? 'draft'}" did not finish within ${ms} ms (total limit). Raise \`total\`, or ask for a shorter answer.`, at),
  /** The deadline came `afterMs` after the request was sent. */
  deadline: (afterMs: number, at: TimedOutAt = {}) =>
    timeoutError('deadline', `Step "${at.step ?? 'draft'}" did not finish by its deadline, ${afterMs} ms after the request was sent (deadline). ${DEADLINE_ADVICE}`, at),
  /** The request was past its deadline when it was subscribed: nothing was sent. */
  pastDeadline: (at: TimedOutAt = {}) =>
    timeoutError('deadline', `Step "${at.step ?? 'draft'}" was past its deadline before the request was sent (deadline). ${DEADLINE_ADVICE}`, at),
};

/**
 * Asserts, in a `testScheduler.run`, that `middleware` fails a request subscribed at 100 ms with a deadline of
 * 100 (already past) with `error` at once, and never subscribes to the transport below it.
 */
export function expectNotSentPastDeadline(
  { cold, expectObservable, expectSubscriptions }: RunHelpers,
  middleware: Middleware,
  request: LlmRequest,
  context: RequestContext,
  error: RxllmError,
): void {
  const upstream = cold<LlmEvent>('  a|');
  const caller = cold('          100ms x|');
  const llm = withMiddleware(() => upstream, middleware);
  expectObservable(caller.pipe(mergeMap(() => llm(request, { ...context, deadline: 100 })))).toBe('100ms #', undefined, error);
  expectSubscriptions(upstream.subscriptions).toBe([]);
}
