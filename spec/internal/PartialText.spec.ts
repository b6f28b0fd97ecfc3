import { PartialText } from '../../src/internal/PartialText';
import type { LlmEvent } from '../../src/core/events';

describe('PartialText', () => {
  it('keeps the text of choice 0, and says whether it grew', () => {
    const partial = new PartialText();
    const grew = (event: LlmEvent) => partial.add(event);

    expect(grew({ type: 'text', choice: 0, text: 'Hel' })).toBe(true);
    expect(grew({ type: 'text', choice: 1, text: 'other choice' })).toBe(false);
    expect(grew({ type: 'text', choice: 0, text: '' })).toBe(false);
    expect(grew({ type: 'reasoning', choice: 0, text: 'thinking' })).toBe(false);
    expect(grew({ type: 'text', choice: 0, text: 'lo' })).toBe(true);

    expect(partial.text).toBe('Hello');
  });

  it('counts any content, of any choice, as emitted; usage and finish are not content', () => {
    const none = new PartialText();
    none.add({ type: 'finish', choice: 0, reason: 'stop' });
    none.add({ type: 'usage', choice: 0, usage: { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 } });
    expect(none.tokensEmitted).toBe(false);
    expect(none.errorDetails()).toEqual({ tokensEmitted: false });

    const toolCall = new PartialText();
    toolCall.add({ type: 'tool-call', choice: 1, callIndex: 0, arguments: '{' });
    expect(toolCall.tokensEmitted).toBe(true);
    expect(toolCall.errorDetails()).toEqual({ tokensEmitted: true }); // no text: no partialText field
  });

  it('gives an error its partialText and tokensEmitted', () => {
    const partial = new PartialText();
    partial.add({ type: 'text', choice: 0, text: 'Hello' });
    expect(partial.errorDetails()).toEqual({ partialText: 'Hello', tokensEmitted: true });
  });
});
