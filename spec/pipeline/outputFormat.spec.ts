import { z } from 'zod';
import { outputFormat } from '../../src/pipeline/outputFormat';

const sentiment = outputFormat('sentiment', z.enum(['positive', 'negative', 'neutral']));
const keywords = outputFormat('keywords', z.object({ keywords: z.array(z.string()).min(1) }));

describe('outputFormat (a step\'s answer parser)', () => {
  it.each([
    ['{"keywords":["rx"]}', ['rx']],
    ['```json\n{"keywords":["rx"]}\n```', ['rx']],
    ['```\n{"keywords":["rx"]}\n```', ['rx']],
    ['Sure! ```JSON {"keywords":["rx"]}``` Hope that helps.', ['rx']],
    ['  {"keywords":["rx"]}\n', ['rx']],
  ])('parses %j', (text, expected) => {
    expect(keywords.parse(text)).toEqual({ ok: true, value: { keywords: expected } });
  });

  it.each([
    ['positive', 'positive'],
    ['Positive.', 'positive'],
    ['**NEGATIVE**', 'negative'],
    ['`neutral`', 'neutral'],
    ["'neutral'", 'neutral'],
    ['"negative"', 'negative'],
    ['{"value":"neutral"}', 'neutral'],
  ])('accepts the enum answer %j', (text, expected) => {
    expect(sentiment.parse(text)).toEqual({ ok: true, value: expected });
  });

  it('rejects a label that is not an option, and says the text was not JSON', () => {
    const result = sentiment.parse('mixed feelings');
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ json: false });
  });

  it('reports JSON of the wrong shape with zod issues and json: true', () => {
    const result = keywords.parse('{"keywords":[]}');
    expect(result).toMatchObject({ ok: false, json: true });
    expect(result.ok || result.error.issues.map((issue) => issue.path.join('.'))).toEqual(['keywords']);
  });

  it('unwraps { value } only for schemas it wrapped, and only a lone value key', () => {
    expect(sentiment.parse('{"value":"positive","extra":1}').ok).toBe(false);
    const wrapper = outputFormat('w', z.object({ value: z.string() }));
    expect(wrapper.parse('{"value":"x"}')).toEqual({ ok: true, value: { value: 'x' } });
  });

  it('names the response format after the step, as OpenAI allows ([a-zA-Z0-9_-], ≤ 64)', () => {
    expect(outputFormat('my step: v2!', z.string()).responseFormat).toMatchObject({
      json_schema: { name: 'my_step__v2_' },
    });
    expect((outputFormat('x'.repeat(80), z.string()).responseFormat as { json_schema: { name: string } }).json_schema.name).toHaveLength(64);
  });
});
