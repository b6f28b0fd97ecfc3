import type { LlmEvent } from '../../src/core/events';
import {
  finishEvent,
  reasoningEvent,
  refusalEvent,
  textEvent,
  toolCallEvent,
  usageEvent,
} from '../../src/testing/events';
import { ChatCompletionDecoder } from '../../src/transport/ChatCompletionDecoder';

// The factories must build exactly what the transports emit, or a test written with them would pass
// against a fake and fail against the real thing.
function decode(...chunks: unknown[]): LlmEvent[] {
  const events: LlmEvent[] = [];
  const decoder = new ChatCompletionDecoder((event) => events.push(event));
  for (const chunk of chunks) decoder.chunk(chunk);
  const incomplete = decoder.end(true);
  if (incomplete) throw incomplete;
  return events;
}

describe('event factories', () => {
  it('build the events a transport decodes from the wire', () => {
    const usage = { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 };
    const events = decode(
      { choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: 'Think.' } }] },
      { choices: [{ index: 0, delta: { content: 'Hel' } }, { index: 1, delta: { refusal: 'No.' } }] },
      {
        choices: [
          { index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"ci' } }] } },
        ],
      },
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: 'ty":"Oslo"}' } }] } }] },
      { choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }, { index: 1, delta: {}, finish_reason: 'stop' }] },
      { choices: [], usage },
    );

    expect(events).toEqual([
      reasoningEvent('Think.'),
      textEvent('Hel'),
      refusalEvent('No.', { choice: 1 }),
      toolCallEvent({ callIndex: 0, id: 'call_1', name: 'get_weather', arguments: '{"ci' }),
      toolCallEvent({ callIndex: 0, arguments: 'ty":"Oslo"}' }),
      finishEvent('tool_calls'),
      finishEvent('stop', { choice: 1 }),
      usageEvent({ prompt_tokens: 9, completion_tokens: 4 }),
    ]);
  });

  it('leave id and name out of a tool-call fragment that does not carry them, as transports do', () => {
    expect(Object.keys(toolCallEvent({ arguments: '}' })).sort()).toEqual(['arguments', 'callIndex', 'choice', 'type']);
  });

  it('default to choice 0, finish reason "stop", and a usage total that is the sum unless given', () => {
    expect(finishEvent()).toEqual({ type: 'finish', choice: 0, reason: 'stop' });
    expect(usageEvent({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 10 }).usage.total_tokens).toBe(10);
    expect(usageEvent({ prompt_tokens: 1, completion_tokens: 2 }).usage.total_tokens).toBe(3);
  });
});
