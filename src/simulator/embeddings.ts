import { createRng, mixSeed } from './prng.js';
import { words } from './textAnalysis.js';

/** The vector length a model returns when the request sets no `dimensions`. */
export function defaultEmbeddingDimensions(model: string): number {
  return /large/i.test(model) ? 3072 : 1536;
}

/**
 * A deterministic unit-length embedding. Words and word pairs are hashed into
 * the vector (feature hashing), plus a little noise seeded by the whole text,
 * so texts that share words have a higher cosine similarity, as with a real
 * model, and different texts never get the same vector. The same text, model,
 * seed and dimensions always give the same vector.
 */
export function embeddingVector(text: string, model: string, seed: number, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  const terms = words(text).map((word) => word.toLowerCase());
  const add = (feature: string, weight: number) => {
    // Each feature touches 4 positions with a hashed sign, which keeps unrelated features near-orthogonal.
    for (let k = 0; k < 4; k++) {
      const hash = mixSeed(seed, model, feature, k);
      vector[hash % dimensions]! += (hash & 0x80000000 ? -1 : 1) * weight;
    }
  };
  terms.forEach((term, index) => {
    add(term, 1);
    if (index > 0) add(`${terms[index - 1]} ${term}`, 0.5);
  });
  const noise = createRng(seed, model, 'embedding-noise', text);
  const noiseScale = terms.length === 0 ? 1 : 0.15 * Math.sqrt(terms.length);
  for (let i = 0; i < dimensions; i++) vector[i]! += noise.normal() * noiseScale / Math.sqrt(dimensions) * 4;
  const norm = Math.sqrt(vector.reduce((sum, value) => sum + value * value, 0)) || 1;
  return vector.map((value) => value / norm);
}
