import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as root from '../src';
import * as metrics from '../src/metrics';
import * as node from '../src/node';
import * as openai from '../src/openai';
import * as redis from '../src/redis';
import * as simulator from '../src/simulator';
import * as testing from '../src/testing';

const repo = resolve(__dirname, '..');
const entries: Record<string, object> = { '.': root, './metrics': metrics, './simulator': simulator, './openai': openai, './testing': testing, './node': node, './redis': redis };
const sourceOf = (subpath: string) => join(repo, 'src', subpath === '.' ? '' : subpath.slice(2), 'index.ts');

// Adding or removing a public export is a deliberate act: it changes these lists.
describe('public surface', () => {
  it('rxllm', () => {
    expect(Object.keys(root).sort()).toMatchSnapshot();
  });
  it('rxllm/metrics', () => {
    expect(Object.keys(metrics).sort()).toMatchSnapshot();
  });
  it('rxllm/simulator', () => {
    expect(Object.keys(simulator).sort()).toMatchSnapshot();
  });
  it('rxllm/node', () => {
    expect(Object.keys(node).sort()).toMatchSnapshot();
  });
  it('rxllm/openai', () => {
    expect(Object.keys(openai).sort()).toEqual(['openaiTransport']);
  });
  it('rxllm/redis', () => {
    expect(Object.keys(redis).sort()).toEqual(['redisCacheStore', 'redisConcurrencyStore', 'redisInFlight', 'redisLatencySource', 'redisRateLimiter', 'redisResumeStore']);
  });
  it('rxllm/testing', () => {
    expect(Object.keys(testing).sort()).toMatchSnapshot();
  });
});

describe('entry points', () => {
  it('export no name twice: the root keeps nothing that moved to rxllm/metrics or rxllm/simulator', () => {
    const owners = new Map<string, string[]>();
    for (const [subpath, entry] of Object.entries(entries)) {
      for (const name of Object.keys(entry)) owners.set(name, [...(owners.get(name) ?? []), subpath]);
    }
    expect([...owners].filter(([, where]) => where.length > 1)).toEqual([]);
  });

  it('re-export nothing from src/internal/', () => {
    const internalNames = readdirSync(join(repo, 'src', 'internal'))
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => Object.keys(require(join(repo, 'src', 'internal', file)) as object));
    expect(internalNames).toContain('sha256');
    for (const [subpath, entry] of Object.entries(entries)) {
      expect({ subpath, leaked: Object.keys(entry).filter((name) => internalNames.includes(name)) }).toEqual({ subpath, leaked: [] });
      // Types leave no trace in Object.keys, so the entry files themselves are read too.
      expect({ subpath, internalImports: readFileSync(sourceOf(subpath), 'utf8').match(/from '[^']*\binternal\/[^']*'/g) ?? [] }).toEqual({
        subpath,
        internalImports: [],
      });
    }
  });

  it('keep the internals issue 13 named off every entry', () => {
    const internals = ['createInFlightRegistry', 'stableStringify', 'LANE_FIELD', 'sha256', 'ProfileBook', 'parseProfileOverride', 'applyOverride', 'FALLBACK_PROFILE'];
    for (const entry of Object.values(entries)) {
      expect(Object.keys(entry).filter((name) => internals.includes(name))).toEqual([]);
    }
  });

  it('match package.json: one `exports` subpath and one `typesVersions` path per entry file, none reaching src/internal/', () => {
    const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      typesVersions: { '*': Record<string, string[]> };
    };
    const subpaths = Object.keys(manifest.exports).filter((subpath) => subpath !== './package.json');
    expect(subpaths.sort()).toEqual(Object.keys(entries).sort());
    expect(Object.keys(manifest.typesVersions['*']).map((path) => `./${path}`).sort()).toEqual(subpaths.filter((subpath) => subpath !== '.').sort());
    expect(JSON.stringify(manifest.exports)).not.toMatch(/internal/);
    for (const [path, [target]] of Object.entries(manifest.typesVersions['*'])) {
      expect(target).toBe(`./dist/cjs/${path}/index.d.ts`);
    }
  });
});
