import { lastValueFrom, toArray } from 'rxjs';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { planStep, Simulator, type ChatPlan } from '../../src/simulator/plan';
import { deltaEvent, usageEvent, wholeResponseEvents } from '../../src/simulator/planEvents';
import { completionBody, streamWriter } from '../../src/simulator/wire';
import { ChatCompletionDecoder } from '../../src/transport/ChatCompletionDecoder';
import { decodeChatStream } from '../../src/transport/decodeChatStream';
import { fromEventStream } from '../../src/transport/fromEventStream';

const tools: LlmRequest['tools'] = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
];
const cases: Record<string, LlmRequest> = {
  text: { model: 'm', messages: [{ role: 'user', content: 'Explain schedulers in RxJS' }] },
  'tool call': { model: 'm', messages: [{ role: 'user', content: 'Weather in Rome?' }], tools },
  'two choices, capped': { model: 'm', messages: [{ role: 'user', content: 'Explain marbles' }], n: 2, max_tokens: 6 },
};
const plan = (request: LlmRequest, stream: boolean, includeUsage: boolean): ChatPlan =>
  new Simulator({ profiles: { m: { outputTokens: 12 } } }).planChat(request, { stream, includeUsage });

/** What the in-process transport emits for a plan. */
function inProcessEvents(p: ChatPlan): LlmEvent[] {
  const events = p.stream ? p.stepTimes.flatMap((_, i) => planStep(p, i).deltas.map(deltaEvent)) : wholeResponseEvents(p);
  return p.includeUsage ? [...events, usageEvent(p)] : events;
}

describe('the wire format', () => {
  it.each(Object.entries(cases))('%s: a stream decodes to the events the in-process transport emits', async (_name, request) => {
    for (const includeUsage of [true, false]) {
      const p = plan(request, true, includeUsage);
      const writer = streamWriter(p, 1700000000);
      const wire = p.stepTimes.map((_, i) => writer.step(planStep(p, i), i === 0)).join('') + writer.end();
      const decoded = await lastValueFrom(fromEventStream(new Response(wire).body!).pipe(decodeChatStream(), toArray()));
      expect(decoded).toEqual(inProcessEvents(p));
    }
  });

  it.each(Object.entries(cases))('%s: a non-streaming body decodes to the same events as in-process', (_name, request) => {
    const p = plan(request, false, true);
    const decoded: LlmEvent[] = [];
    new ChatCompletionDecoder((event) => decoded.push(event)).completion(JSON.parse(completionBody(p, 1700000000)));
    expect(decoded).toEqual(inProcessEvents(p));
  });

  it('writes OpenAI’s chunk shapes: role chunk, content chunks, finish chunk, usage chunk, [DONE]', () => {
    const p = plan(cases['text']!, true, true);
    const writer = streamWriter(p, 1700000000);
      const wire = p.stepTimes.map((_, i) => writer.step(planStep(p, i), i === 0)).join('') + writer.end();
    const messages = wire.split('\n\n').filter(Boolean).map((line) => line.replace(/^data: /, ''));
    expect(messages.at(-1)).toBe('[DONE]');
    const chunks = messages.slice(0, -1).map((m) => JSON.parse(m) as Record<string, unknown>);
    const common = { id: p.id, object: 'chat.completion.chunk', created: 1700000000, model: 'm', system_fingerprint: 'fp_rxllm_sim' };
    expect(chunks[0]).toEqual({ ...common, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }], usage: null });
    expect(chunks[1]).toEqual({ ...common, choices: [{ index: 0, delta: { content: expect.any(String) }, logprobs: null, finish_reason: null }], usage: null });
    expect(chunks.at(-2)).toEqual({ ...common, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], usage: null });
    expect(chunks.at(-1)).toEqual({ ...common, choices: [], usage: p.usage });
  });
});
