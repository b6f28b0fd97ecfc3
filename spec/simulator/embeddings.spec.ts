import { defaultEmbeddingDimensions, embeddingVector } from '../../src/simulator/embeddings';

const cosine = (a: number[], b: number[]) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);

describe('embeddingVector', () => {
  it('is deterministic and unit-length, with the requested dimensions', () => {
    const a = embeddingVector('The cat sat on the mat', 'text-embedding-3-small', 1, 256);
    expect(a).toHaveLength(256);
    expect(embeddingVector('The cat sat on the mat', 'text-embedding-3-small', 1, 256)).toEqual(a);
    expect(Math.sqrt(a.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 10);
  });

  it('puts texts that share words closer than unrelated texts', () => {
    const v = (text: string) => embeddingVector(text, 'text-embedding-3-small', 1, 1536);
    const base = v('RxJS operators make streaming LLM pipelines fast');
    const related = v('Streaming LLM pipelines with RxJS operators');
    const unrelated = v('A recipe for sourdough bread with rye flour');
    expect(cosine(base, related)).toBeGreaterThan(0.5);
    expect(Math.abs(cosine(base, unrelated))).toBeLessThan(0.2);
  });

  it('differs by seed, model and text, even for texts with the same words', () => {
    const a = embeddingVector('dog bites man', 'm', 1, 64);
    expect(embeddingVector('man bites dog', 'm', 1, 64)).not.toEqual(a);
    expect(embeddingVector('dog bites man', 'm', 2, 64)).not.toEqual(a);
    expect(embeddingVector('dog bites man', 'other', 1, 64)).not.toEqual(a);
    expect(embeddingVector('', 'm', 1, 8).every(Number.isFinite)).toBe(true);
  });

  it('defaults to 1536 dimensions, 3072 for large models', () => {
    expect(defaultEmbeddingDimensions('text-embedding-3-small')).toBe(1536);
    expect(defaultEmbeddingDimensions('text-embedding-3-large')).toBe(3072);
  });
});
