import { z } from 'zod';
import { jsonResponseFormat } from '../../src/pipeline/jsonResponseFormat';

describe('jsonResponseFormat (what a step with an output schema asks for)', () => {
  it('asks for an object root as is, and wraps any other root in { value }', () => {
    const object = jsonResponseFormat('summary', z.object({ title: z.string() }));
    expect(object.root).toBe('object');
    expect(object.responseFormat).toEqual({
      type: 'json_schema',
      json_schema: {
        name: 'summary',
        schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'], additionalProperties: false },
      },
    });
    const label = jsonResponseFormat('sentiment', z.enum(['positive', 'negative']));
    expect(label.root).toBe('wrapped');
    expect(label.responseFormat).toMatchObject({
      json_schema: { schema: { type: 'object', properties: { value: { type: 'string', enum: ['positive', 'negative'] } }, required: ['value'] } },
    });
  });

  it('names the response format after the step, as OpenAI allows ([a-zA-Z0-9_-], ≤ 64)', () => {
    expect(jsonResponseFormat('my step: v2!', z.string()).responseFormat).toMatchObject({
      json_schema: { name: 'my_step__v2_' },
    });
    expect((jsonResponseFormat('x'.repeat(80), z.string()).responseFormat as { json_schema: { name: string } }).json_schema.name).toHaveLength(64);
  });

  it('is an invalid-config error, naming the step, for a schema JSON Schema cannot express', () => {
    expect(() => jsonResponseFormat('when', z.object({ at: z.date() }))).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('step "when"') }),
    );
  });
});
