import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RequestContext } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import type { Transport } from '../../src/core/transport';
import type { Progress } from '../../src/core/Progress';

/** Marble frames compared with toEqual; errors are compared by the instance the test passes. */
export function createTestScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** Value maps for cold() fake streams: `a`, `b`, ... are text tokens, `f` the finish event. */
export function events(tokens: Record<string, string>): Record<string, LlmEvent> {
  const map: Record<string, LlmEvent> = { f: { type: 'finish', choice: 0, reason: 'stop' } };
  for (const [key, text] of Object.entries(tokens)) map[key] = { type: 'text', choice: 0, text };
  return map;
}

/** A request whose model names the route a {@link routedTransport} takes. */
export function ask(model: string, content = 'hello'): LlmRequest {
  return { model, messages: [{ role: 'user', content }] };
}

/**
 * A fake transport: requests for model M are answered by `routes[M]`'s next
 * observable (one per call, so re-asks get the second, ...). Every request is
 * recorded, with the context it came with.
 */
export function routedTransport(
  routes: Record<string, Observable<LlmEvent>[]>,
): Transport & { requests: LlmRequest[]; contexts: (RequestContext | undefined)[] } {
  const calls = new Map<string, number>();
  const requests: LlmRequest[] = [];
  const contexts: (RequestContext | undefined)[] = [];
  const transport = (request: LlmRequest, context?: RequestContext) => {
    requests.push(request);
    contexts.push(context);
    const n = calls.get(request.model) ?? 0;
    calls.set(request.model, n + 1);
    const answer = routes[request.model]?.[n];
    if (!answer) throw new Error(`no fake answer #${n + 1} for model ${request.model}`);
    return answer;
  };
  return Object.assign(transport, { requests, contexts });
}

/** A one-line picture of a state, for marble value maps: `waiting:`, `streaming:Hel`, `done:"Hello"`. */
export function show(state: Progress<unknown> & { textSoFar?: string }): string {
  if (state.status === 'done') return `done:${JSON.stringify(state.value)}`;
  return `${state.status}:${state.textSoFar ?? ''}`;
}
