import { Observable } from 'rxjs';
import type { RequestContext } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { step } from '../../src/pipeline/step';
import { haveSameMap } from '../helpers/haveSameMap';

// What a run emits per token, and what a step sends per request, are copies V8 should give one hidden class each
// (src/internal/withFields.ts): on Node 20 a spread followed by a field gives every copy its own, which made
// step().run() about ten times slower per token (docs/performance.md, "Hidden classes: one per copy").

const texts = Array.from({ length: 30 }, (_, i) => `t${i} `);
const answer = (): Observable<LlmEvent> =>
  new Observable<LlmEvent>((subscriber) => {
    for (const text of texts) subscriber.next({ type: 'text', choice: 0, text });
    subscriber.next({ type: 'finish', choice: 0, reason: 'stop' });
    subscriber.complete();
  });
const build = (input: string): LlmRequest => ({ model: 'm', messages: [{ role: 'user', content: input }] });

function expectOneMap(objects: object[]): void {
  expect(objects.length).toBeGreaterThan(2);
  for (let i = 1; i < objects.length; i++) expect(haveSameMap(objects[i]!, objects[i - 1]!)).toBe(true);
}

describe('hidden classes of what a step copies', () => {
  it("gives a step's streaming states one hidden class", () => {
    const states: object[] = [];
    step('s', build, { transport: answer }).run('q').subscribe((state) => {
      if (state.status === 'streaming') states.push(state);
    });
    expect(states).toHaveLength(texts.length);
    expectOneMap(states.slice(6));
  });

  it("gives value()'s requests and the steps' contexts one hidden class per request", () => {
    const sent: { request: LlmRequest; context: RequestContext | undefined }[] = [];
    const recording = (request: LlmRequest, context?: RequestContext) => {
      sent.push({ request, context });
      return answer();
    };
    const one = step('s', build, { transport: recording });
    // V8 shares maps between the first copies a site makes whatever the code: the later ones tell.
    for (let i = 0; i < 40; i++) one.value(`q${i}`).subscribe();
    expect(sent.map(({ request }) => request.stream)).toEqual(Array(40).fill(false));
    expectOneMap(sent.slice(20).map(({ request }) => request));
    expectOneMap(sent.slice(20).map(({ context }) => context!));
  });
});
