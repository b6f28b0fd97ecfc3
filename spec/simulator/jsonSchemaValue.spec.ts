import { z } from 'zod';
import { valueForSchema } from '../../src/simulator/jsonSchemaValue';
import { createRng } from '../../src/simulator/prng';

const INPUT = 'The Lisbon office loved the new caching layer. Caching cut latency in half, and the team in Porto wants caching too.';

// Schemas as structured outputs and tool parameters write them; each value is checked by zod's own JSON-schema reader.
const schemas: Record<string, Record<string, unknown>> = {
  'flat object with all types': {
    type: 'object',
    properties: {
      title: { type: 'string' },
      count: { type: 'integer' },
      ratio: { type: 'number' },
      done: { type: 'boolean' },
      nothing: { type: 'null' },
    },
    required: ['title', 'count', 'ratio', 'done', 'nothing'],
    additionalProperties: false,
  },
  'enums, const and nullable': {
    type: 'object',
    properties: {
      sentiment: { type: 'string', enum: ['positive', 'negative', 'neutral'] },
      level: { enum: [1, 2, 3] },
      kind: { const: 'review' },
      note: { type: ['string', 'null'] },
    },
    required: ['sentiment', 'level', 'kind', 'note'],
  },
  'bounds': {
    type: 'object',
    properties: {
      stars: { type: 'integer', minimum: 1, maximum: 5 },
      confidence: { type: 'number', minimum: 0, maximum: 1 },
      above: { type: 'number', exclusiveMinimum: 10, exclusiveMaximum: 11 },
      step: { type: 'integer', multipleOf: 5, minimum: 12, maximum: 30 },
      code: { type: 'string', minLength: 12, maxLength: 14 },
      short: { type: 'string', maxLength: 3 },
    },
    required: ['stars', 'confidence', 'above', 'step', 'code', 'short'],
  },
  'arrays and tuples': {
    type: 'object',
    properties: {
      keywords: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 4, uniqueItems: true },
      points: { type: 'array', items: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'] }, minItems: 1 },
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false },
      tags: { type: 'array', items: { enum: ['a', 'b', 'c'] }, uniqueItems: true, minItems: 2 },
    },
    required: ['keywords', 'points', 'pair', 'tags'],
  },
  'formats': {
    type: 'object',
    properties: {
      when: { type: 'string', format: 'date-time' },
      day: { type: 'string', format: 'date' },
      email: { type: 'string', format: 'email' },
      site: { type: 'string', format: 'uri' },
      id: { type: 'string', format: 'uuid' },
    },
    required: ['when', 'day', 'email', 'site', 'id'],
  },
  'anyOf, allOf and $ref with recursion': {
    type: 'object',
    $defs: {
      node: { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/node' } } }, required: ['name', 'children'] },
    },
    properties: {
      tree: { $ref: '#/$defs/node' },
      either: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 3, maximum: 3 }] },
      both: { allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'boolean' } }, required: ['b'] }] },
    },
    required: ['tree', 'either', 'both'],
  },
};

describe('valueForSchema', () => {
  it.each(Object.entries(schemas))('makes a valid value for %s, whatever the seed', (_name, schema) => {
    const validator = z.fromJSONSchema(schema as never);
    for (let seed = 0; seed < 25; seed++) {
      const value = valueForSchema(schema, { rng: createRng(seed), input: INPUT });
      const checked = validator.safeParse(JSON.parse(JSON.stringify(value)));
      if (!checked.success) throw new Error(`seed ${seed}: ${JSON.stringify(value)}\n${z.prettifyError(checked.error)}`);
    }
  });

  it('makes valid values for schemas generated from zod', () => {
    const review = z.object({
      sentiment: z.enum(['positive', 'negative', 'mixed']),
      summary: z.string(),
      keywords: z.array(z.string()).min(3).max(3),
      score: z.number().min(0).max(1),
      city: z.string().optional(),
      meta: z.object({ stars: z.number().int().min(1).max(5), verified: z.boolean() }),
    });
    const schema = z.toJSONSchema(review);
    for (let seed = 0; seed < 10; seed++) {
      expect(() => review.parse(valueForSchema(schema, { rng: createRng(seed), input: INPUT }))).not.toThrow();
    }
  });

  it('reads plausibly: sentiment from the input, summary and keywords from its words, names for places', () => {
    const value = valueForSchema(
      {
        type: 'object',
        properties: {
          sentiment: { type: 'string', enum: ['positive', 'negative', 'neutral'] },
          summary: { type: 'string' },
          keywords: { type: 'array', items: { type: 'string' } },
          city: { type: 'string' },
        },
      },
      { rng: createRng(1), input: INPUT, keywordCount: 2 },
    ) as Record<string, unknown>;
    expect(value).toEqual({
      sentiment: 'positive',
      summary: expect.stringMatching(/caching/i),
      keywords: ['caching', expect.any(String)],
      city: 'Lisbon',
    });
    expect(INPUT).toContain((value['summary'] as string).slice(0, 30));
  });

  it('is deterministic for the same randomness', () => {
    const schema = schemas['bounds']!;
    expect(valueForSchema(schema, { rng: createRng(9), input: INPUT })).toEqual(valueForSchema(schema, { rng: createRng(9), input: INPUT }));
  });
});
