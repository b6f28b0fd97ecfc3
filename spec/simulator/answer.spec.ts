import type { LlmRequest } from '../../src/core/request';
import { composeAnswer } from '../../src/simulator/answer';
import { createRng } from '../../src/simulator/prng';
import { contentWords, sentences, topKeywords, words } from '../../src/simulator/textAnalysis';
import { tokenize } from '../../src/simulator/tokenize';

const ARTICLE =
  'Streaming cuts perceived latency because users see the first tokens early. ' +
  'Caching removes repeated requests entirely, and caching works best for deterministic prompts. ' +
  'Parallel steps finish in the time of the slowest step. ' +
  'Hedging sends a backup request when the primary one is slow, and cancels the loser.';

function answer(request: Partial<LlmRequest> & { messages: LlmRequest['messages'] }, seed = 1, tokens = 40): string {
  const result = composeAnswer({ model: 'gpt-4o-mini', ...request }, createRng(seed), tokens);
  if (result.type !== 'text') throw new Error(`expected text, got a call of ${result.name}`);
  return result.text;
}
const user = (content: string): LlmRequest['messages'] => [{ role: 'user', content }];

describe('composeAnswer', () => {
  describe('sentiment', () => {
    it.each([
      ['The food was great and the staff were lovely.', 'positive'],
      ['Terrible service, the order was late and the soup was cold.', 'negative'],
      ['The package arrived on Tuesday.', 'neutral'],
      ['It was not good at all.', 'negative'],
    ])('labels %j as %s, one of the labels offered', (review, label) => {
      expect(answer({ messages: user(`Classify the sentiment of this review as positive, negative, or neutral.\n\n${review}`) })).toBe(label);
    });

    it('answers in the wording and casing the prompt uses', () => {
      const messages: LlmRequest['messages'] = [
        { role: 'system', content: 'You are a sentiment classifier. Reply with exactly one of: "Happy" | "Unhappy".' },
        { role: 'user', content: 'I love it, best purchase this year!' },
      ];
      expect(answer({ messages })).toBe('Happy');
    });

    it('chooses among arbitrary labels of a classification prompt', () => {
      const label = answer({ messages: user('Classify this ticket as bug, feature, or question: the app crashes on start') });
      expect(['bug', 'feature', 'question']).toContain(label);
    });
  });

  describe('summaries', () => {
    it('"summarize in one sentence" gives one sentence made of the input’s own words', () => {
      const summary = answer({ messages: user(`Summarize in one sentence:\n${ARTICLE}`) });
      expect(sentences(summary)).toHaveLength(1);
      expect(summary).toMatch(/^[A-Z].*\.$/);
      const inputWords = new Set(words(ARTICLE).map((w) => w.toLowerCase()));
      for (const word of words(summary)) expect(inputWords).toContain(word.toLowerCase());
    });

    it('gives N sentences when asked, in the input’s order', () => {
      const summary = answer({ messages: user(`Summarize the text below in 2 sentences.\n\n${ARTICLE}`) });
      const chosen = sentences(summary);
      expect(chosen).toHaveLength(2);
      const positions = chosen.map((s) => ARTICLE.indexOf(s.slice(0, 20)));
      expect(positions.every((p) => p >= 0)).toBe(true);
      expect(positions[0]).toBeLessThan(positions[1]!);
    });

    // The demo's texts (src/cli/demo/pipeline.ts): one sentence, two sentences, one sentence with a colon.
    it.each([
      'The new laptop is fast and the battery easily lasts a full working day, though the speakers sound thin and the fan gets loud under load.',
      'Customer support kept me on hold for an hour, then closed my ticket without fixing the billing error. I am cancelling my subscription.',
      'The conference was well organised: clear schedule, good coffee, and talks on streaming pipelines that were practical and easy to follow.',
      'The build is green.',
    ])('a one-sentence summary of %j is one sentence, shorter than the text, that restates it in other words', (text) => {
      const summary = answer({ messages: user(`Summarize this text in one sentence:\n\n${text}`) });
      expect(sentences(summary)).toHaveLength(1);
      expect(words(summary).length).toBeLessThan(words(text).length);
      expect(summary.toLowerCase()).not.toBe(text.toLowerCase());
      expect(text.toLowerCase()).not.toContain(summary.replace(/\.$/, '').toLowerCase()); // not a cut of the text either
      // It restates the text: most of its content words are the text's.
      const textWords = new Set(words(text).map((w) => w.toLowerCase()));
      const own = contentWords(summary).filter((w) => w.toLowerCase() !== 'writer');
      expect(own.filter((w) => textWords.has(w.toLowerCase())).length / own.length).toBeGreaterThanOrEqual(0.9);
      expect(own.length).toBeGreaterThanOrEqual(Math.min(2, contentWords(text).length));
    });

    it('never answers with the prompt: the input after "Summarize in one sentence:" is the text, however short', () => {
      const summary = answer({ messages: user('Summarize in one sentence: The build is green.') });
      expect(summary).not.toMatch(/summari[sz]e/i);
      expect(summary).toMatch(/\bbuild\b.*\bgreen\b/i);
      expect(summary).not.toBe('The build is green.');
    });

    it('does not mistake an input that mentions a summary for the task', () => {
      const text = answer({ messages: user('Extract 2 keywords: The summary mentions caching, caching again, and hedging.') });
      expect(text.split(', ')).toHaveLength(2);
    });
  });

  describe('keywords', () => {
    it.each([
      ['Extract 3 keywords from this text:', 3],
      ['List five keywords for the following text.\n\n', 5],
      ['Give me the top 4 key phrases:', 4],
    ])('%j → that many keywords, each from the input', (instruction, count) => {
      const text = answer({ messages: user(`${instruction}\n${ARTICLE}`) });
      const keywords = text.split(', ');
      expect(keywords).toHaveLength(count);
      for (const keyword of keywords) expect(ARTICLE.toLowerCase()).toContain(keyword.toLowerCase());
      expect(keywords[0]).toBe('caching'); // the most frequent content word
    });

    it('gives exactly N when N is asked, even for an input with fewer words than that', () => {
      for (let count = 1; count <= 12; count++) {
        expect(answer({ messages: user(`Extract ${count} keywords from this text:\n\n${ARTICLE}`) }).split(', ')).toHaveLength(count);
      }
      const few = answer({ messages: user('Extract 6 keywords: The build is green.') }).split(', ');
      expect(few).toHaveLength(6);
      expect(new Set(few).size).toBe(6);
      expect(few.slice(0, 2)).toEqual(['build', 'green']);
    });

    // A step with output z.array(z.string()) asks for { "value": [...] } (OpenAI wants an object root);
    // z.object({ keywords: z.array(...) }) asks for { "keywords": [...] }. Both get the N keywords, flat.
    it.each([
      ['a step wrapping z.array in { value }', { type: 'object', properties: { value: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 8 } }, required: ['value'], additionalProperties: false }, 'value'],
      ['an object with a keywords array', { type: 'object', properties: { keywords: { type: 'array', items: { type: 'string' } } }, required: ['keywords'] }, 'keywords'],
      ['an object with a differently named list', { type: 'object', properties: { terms_found: { type: 'array', items: { type: 'string' } } }, required: ['terms_found'] }, 'terms_found'],
    ])('"Extract 5 keywords" with a JSON schema (%s) gets the same 5 keywords as the plain-text answer', (_name, schema, key) => {
      const prompt = `Extract 5 keywords from this text:\n\n${ARTICLE}`;
      const plain = answer({ messages: user(prompt) }).split(', ');
      const json = JSON.parse(answer({ messages: user(prompt), response_format: { type: 'json_schema', json_schema: { name: 'keywords', schema } } })) as Record<string, unknown>;
      expect(Object.keys(json)).toEqual([key]);
      expect(json[key]).toEqual(plain);
      expect(plain).toHaveLength(5);
    });

    it('honours "as a JSON array" and "one per line"', () => {
      expect(JSON.parse(answer({ messages: user(`Extract 2 keywords as a JSON array:\n${ARTICLE}`) }))).toEqual(['caching', expect.any(String)]);
      expect(answer({ messages: user(`Extract 2 keywords, one per line:\n${ARTICLE}`) }).split('\n')).toEqual(['- caching', expect.stringMatching(/^- /)]);
    });
  });

  describe('replies', () => {
    // The prompt `rxllm demo`'s reply step sends (src/cli/demo/pipeline.ts).
    const demoPrompt = (sentiment: string, summary: string) =>
      `Draft a two-sentence reply to a customer whose message was ${sentiment}. Their message, summarized: ${summary}`;
    const SUMMARY = 'Customer support kept me on hold for an hour, then closed my ticket without fixing the billing error.';
    const THANKS = /\b(?:thank|thanks|glad)\b/i;
    const APOLOGY = /\b(?:sorry|apologi[sz]e)\b/i;
    const ACKNOWLEDGEMENT = /\b(?:received|noted)\b/i;

    it.each([
      ['positive', THANKS, [APOLOGY, ACKNOWLEDGEMENT]],
      ['negative', APOLOGY, [THANKS, ACKNOWLEDGEMENT]],
      ['neutral', ACKNOWLEDGEMENT, [THANKS, APOLOGY]],
    ] as const)('to a %s message: two sentences, opening in that tone, about the summary’s keywords', (sentiment, tone, otherTones) => {
      const keywords = topKeywords(SUMMARY, 4).map((keyword) => keyword.toLowerCase());
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const reply = answer({ messages: user(demoPrompt(sentiment, SUMMARY)) }, seed);
        const [opener, ...rest] = sentences(reply);
        expect(rest).toHaveLength(1);
        expect(opener).toMatch(tone);
        for (const other of otherTones) expect(opener).not.toMatch(other);
        expect(keywords.some((keyword) => reply.toLowerCase().includes(keyword))).toBe(true);
        expect(reply).toMatch(/^[A-Z].*\.$/);
      }
    });

    it('reads the tone from the instruction, so "not happy" calls for an apology', () => {
      expect(sentences(answer({ messages: user(`Write a reply to a customer who is not happy. Their email: ${SUMMARY}`) }))[0]).toMatch(APOLOGY);
    });

    it.each([
      ['Write a 3-sentence response to this review:', 3],
      ['Compose a reply in 4 sentences to the following customer email.\n\n', 4],
      ['Draft a one-sentence answer to this complaint:', 1],
      ['Write a reply to this email:', 2],
    ])('%j → that many sentences', (instruction, count) => {
      const review = 'The hotel room was lovely but breakfast was cold and the staff at the front desk were rude.';
      const reply = answer({ messages: user(`${instruction} ${review}`) }, 3, 200);
      expect(sentences(reply)).toHaveLength(count);
      expect(reply).toMatch(/breakfast|hotel|staff|room|desk/);
    });

    it('takes a reply stated before "Summary:" for a reply, not a summary (examples/measure.ts)', () => {
      const reply = answer({ messages: user(`Write a short reply to a damage ticket. Summary: My order arrived with a cracked screen. I was charged twice for shipping.`) });
      expect(sentences(reply)).toHaveLength(2);
      expect(reply).toMatch(/screen|shipping|order/);
      expect(reply).not.toMatch(/^My order/);
    });

    it('is the same for the same request and seed, and varies across seeds', () => {
      const request = { messages: user(demoPrompt('negative', SUMMARY)) };
      expect(answer(request, 9)).toBe(answer(request, 9));
      expect(new Set([1, 2, 3, 4, 5, 6].map((seed) => answer(request, seed))).size).toBeGreaterThan(1);
    });

    it('leaves a classification prompt that says "reply with" or also asks for a reply to the classifier', () => {
      expect(answer({ messages: user('Classify the sentiment of this customer message as positive, negative or neutral. Reply with one word.\n\nThe order was late and the soup was cold, terrible service.') })).toBe('negative');
      // Both tasks are named; the one stated first wins.
      expect(answer({ messages: user('Classify the sentiment of the customer email as positive or negative, then write a reply to the customer.\n\nI hate waiting.') })).toBe('negative');
    });

    it.each([
      'Write a bug report: the reply button for customer emails does nothing when I click it.',
      'Write an answer to this question: how do caching and hedging cut latency?',
      'Why is my reply to the customer stuck in the outbox?',
    ])('does not take %j for a reply task', (prompt) => {
      // Free-form filler is cut to exactly the requested number of tokens; a reply is not.
      expect(tokenize(answer({ messages: user(prompt) }, 1, 40))).toHaveLength(40);
    });

    it('json_object gets { reply }', () => {
      const text = answer({ messages: user(demoPrompt('positive', SUMMARY)), response_format: { type: 'json_object' } });
      const { reply } = JSON.parse(text) as { reply: string };
      expect(sentences(reply)).toHaveLength(2);
      expect(sentences(reply)[0]).toMatch(THANKS);
    });
  });

  describe('structured output', () => {
    it('json_object gets a JSON object shaped by the task', () => {
      const text = answer({
        messages: user(`Classify the sentiment as positive or negative and answer in JSON: I hate waiting.`),
        response_format: { type: 'json_object' },
      });
      expect(JSON.parse(text)).toEqual({ sentiment: 'negative' });
    });

    it('json_schema gets JSON for the schema (see jsonSchemaValue.spec for the schema coverage)', () => {
      const text = answer({
        messages: user(`Analyse: ${ARTICLE}`),
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'a', schema: { type: 'object', properties: { topic: { type: 'string' }, score: { type: 'number', minimum: 0, maximum: 1 } }, required: ['topic', 'score'] } },
        },
      });
      const value = JSON.parse(text) as { topic: string; score: number };
      expect(typeof value.topic).toBe('string');
      expect(value.score).toBeGreaterThanOrEqual(0);
      expect(value.score).toBeLessThanOrEqual(1);
    });
  });

  describe('tools', () => {
    const tools: LlmRequest['tools'] = [
      { type: 'function', function: { name: 'send_email', description: 'Send an email', parameters: { type: 'object', properties: { to: { type: 'string', format: 'email' } }, required: ['to'] } } },
      { type: 'function', function: { name: 'get_weather', description: 'Get the weather forecast for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
    ];

    it('calls the tool that matches the prompt, with arguments for its parameters', () => {
      const call = composeAnswer({ model: 'm', messages: user('What will the weather be in Lisbon tomorrow?'), tools }, createRng(1), 20);
      expect(call).toEqual({ type: 'tool-call', id: expect.stringMatching(/^call_\w+$/), name: 'get_weather', arguments: '{"city":"Lisbon"}' });
    });

    it('follows tool_choice: a named function, or none', () => {
      const named = composeAnswer(
        { model: 'm', messages: user('What will the weather be in Lisbon?'), tools, tool_choice: { type: 'function', function: { name: 'send_email' } } },
        createRng(1),
        20,
      );
      expect(named).toMatchObject({ type: 'tool-call', name: 'send_email' });
      expect(JSON.parse((named as { arguments: string }).arguments)).toEqual({ to: 'alex@example.com' });
      expect(composeAnswer({ model: 'm', messages: user('Weather in Lisbon?'), tools, tool_choice: 'none' }, createRng(1), 20).type).toBe('text');
    });

    it('answers in words after a tool result, quoting it', () => {
      const messages: LlmRequest['messages'] = [
        { role: 'user', content: 'Weather in Lisbon?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Lisbon"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny, 24 degrees, light wind.' },
      ];
      const text = answer({ messages, tools }, 1, 30);
      expect(text).toMatch(/^According to the tool result, sunny, 24 degrees, light wind\./);
    });
  });

  describe('free-form answers', () => {
    it('are fluent filler about the prompt’s topics, exactly the requested number of tokens', () => {
      const text = answer({ messages: user('How do caching and hedging reduce latency in LLM pipelines?') }, 1, 60);
      expect(tokenize(text)).toHaveLength(60);
      expect(text).toMatch(/caching|hedging|latency|pipelines/);
      expect(text).toMatch(/[.\n]$/);
    });

    it('greet back', () => {
      expect(answer({ messages: user('Hello!') }, 1, 40)).toBe('Hello! How can I help you today?');
    });

    it.each(['hi there', 'Hey everyone!', 'good morning', 'thanks!', 'Thank you so much', 'how are you?', 'bye', 'What is RxJS?', 'Explain observables'])(
      'answer a short prompt or small talk (%j) briefly, in a sentence or two, without echoing it',
      (prompt) => {
        for (const seed of [1, 2, 3]) {
          const text = answer({ messages: user(prompt) }, seed, 200);
          expect(words(text).length).toBeLessThanOrEqual(25);
          expect(sentences(text).length).toBeLessThanOrEqual(2);
          if (words(prompt).length > 1) expect(text.toLowerCase()).not.toContain(prompt.toLowerCase().replace(/[?!.]$/, ''));
          expect(text.toLowerCase()).not.toBe(prompt.toLowerCase());
          expect(text).toMatch(/[.!?]$/);
        }
      },
    );

    it('a short question is answered about its own words, not about "the question" or "the details"', () => {
      const text = answer({ messages: user('What is RxJS?') }, 1, 200);
      expect(text).toContain('RxJS');
      expect(text).not.toMatch(/the (?:question|context|details)\b/);
    });

    it('a length asked for with a tokens= override wins over the short answer', () => {
      const result = composeAnswer({ model: 'm', messages: user('What is RxJS?') }, createRng(1), 50, { lengthSet: true });
      expect(result.type === 'text' && tokenize(result.text)).toHaveLength(50);
    });

    it('are the same for the same request and seed, and differ across seeds', () => {
      const request = { messages: user('Tell me about observables and schedulers in RxJS') };
      expect(answer(request, 5)).toBe(answer(request, 5));
      expect(answer(request, 5)).not.toBe(answer(request, 6));
    });
  });
});
