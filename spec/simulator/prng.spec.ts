import { createRng, hashHex, mixSeed } from '../../src/simulator/prng';

describe('createRng', () => {
  it('gives the same sequence for the same seed parts, and another for others', () => {
    const a = createRng(1, 'latency', 0);
    const b = createRng(1, 'latency', 0);
    const c = createRng(1, 'latency', 1);
    const take = (rng: ReturnType<typeof createRng>) => Array.from({ length: 5 }, () => rng.next());
    const first = take(a);
    expect(take(b)).toEqual(first);
    expect(take(c)).not.toEqual(first);
  });

  it('draws uniforms in [0, 1) and standard normals', () => {
    const rng = createRng(42);
    const uniforms = Array.from({ length: 20000 }, () => rng.next());
    expect(Math.min(...uniforms)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...uniforms)).toBeLessThan(1);
    expect(uniforms.reduce((s, u) => s + u, 0) / uniforms.length).toBeCloseTo(0.5, 1);
    const normals = Array.from({ length: 20000 }, () => rng.normal());
    const mean = normals.reduce((s, z) => s + z, 0) / normals.length;
    const variance = normals.reduce((s, z) => s + (z - mean) ** 2, 0) / normals.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('picks integers and items in range', () => {
    const rng = createRng('x');
    const ints = new Set(Array.from({ length: 500 }, () => rng.int(4)));
    expect([...ints].sort()).toEqual([0, 1, 2, 3]);
    expect(['a', 'b']).toContain(rng.pick(['a', 'b']));
  });
});

describe('mixSeed and hashHex', () => {
  it('tell numbers from their string form and are stable', () => {
    expect(mixSeed(1)).not.toBe(mixSeed('1'));
    expect(mixSeed('a', 'b')).not.toBe(mixSeed('ab'));
    expect(hashHex('abc')).toMatch(/^[0-9a-f]{8}$/);
    expect(hashHex('abc')).toBe(hashHex('abc'));
  });
});
