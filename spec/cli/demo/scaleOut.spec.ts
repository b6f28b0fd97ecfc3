/*
 * The demo's scale-out section: three real instance processes (forked, each with its own ioredis client), a real
 * redis-server started by the test (REDIS_URL), and the simulator server. Real state is read back from the
 * simulator's counters and from Redis itself; the skip paths print one line and never fail the demo.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { answerRequest } from '../../../src/cli/demo/scaleOutProtocol';
import { scaleOutSection, type ScaleOutReport } from '../../../src/cli/demo/scaleOut';
import type { SkippedSection } from '../../../src/cli/demo/types';
import { startSimulatorServer, type SimulatorServer, type SimulatorStats } from '../../../src/node/simulatorServer';
import { text } from '../../../src/operators/text';
import { sseTransport } from '../../../src/transport/sse';
import { describeWithRedis, useRedisServer } from '../../helpers/redisServer';

const MODEL = 'gpt-4o-mini';

let simulator: SimulatorServer;
beforeAll(async () => {
  simulator = await startSimulatorServer({ seed: 5 });
});
afterAll(async () => {
  await simulator?.close();
});

/** The simulator, with what its counters said each time the section reset them (the part before). */
function recordingServer(): { server: SimulatorServer; beforeResets: SimulatorStats[] } {
  const beforeResets: SimulatorStats[] = [];
  const server: SimulatorServer = Object.create(simulator, {
    resetStats: {
      value: () => {
        beforeResets.push(simulator.stats());
        simulator.resetStats();
      },
    },
  });
  return { server, beforeResets };
}

/** The section on the simulator (`server`: null for a real endpoint), its lines collected. */
function run(env: Record<string, string | undefined>, server: SimulatorServer | null = simulator) {
  const lines: string[] = [];
  const report = scaleOutSection({ transport: sseTransport({ baseURL: simulator.baseURL }), ...(server ? { server } : {}), model: MODEL, log: (line) => lines.push(line), env });
  return { report, lines };
}

describe('scale-out section without Redis', () => {
  it('prints one line saying how to enable it when there is no REDIS_URL and no redis-server on PATH', async () => {
    const { report, lines } = run({ PATH: '/nonexistent-bin' });
    expect(await report).toEqual({ skipped: 'no Redis: neither REDIS_URL nor a redis-server on PATH' });
    expect(lines).toEqual(['\n4. Scale-out: skipped (set REDIS_URL or install redis-server)']);
  });

  it('prints one line when the redis-server on PATH does not start', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'rxllm-path-'));
    writeFileSync(join(bin, 'redis-server'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(bin, 'redis-server'), 0o755);
    const { report, lines } = run({ PATH: bin });
    expect(await report).toEqual({ skipped: expect.stringMatching(/^redis-server did not start: redis-server exited \(1\)/) });
    expect(lines).toEqual(['\n4. Scale-out: skipped (the redis-server on PATH did not start; try REDIS_URL)']);
  });

  it('prints one line when ioredis is not installed (an optional peer)', async () => {
    let section: typeof scaleOutSection | undefined;
    jest.isolateModules(() => {
      jest.doMock('../../../src/cli/demo/redisClient', () => ({ ...jest.requireActual('../../../src/cli/demo/redisClient'), loadIoredis: async () => undefined }));
      section = (jest.requireActual('../../../src/cli/demo/scaleOut') as typeof import('../../../src/cli/demo/scaleOut')).scaleOutSection;
    });
    jest.dontMock('../../../src/cli/demo/redisClient');
    const lines: string[] = [];
    const report = await section!({ transport: sseTransport({ baseURL: simulator.baseURL }), server: simulator, model: MODEL, log: (line) => lines.push(line), env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    expect(report).toEqual({ skipped: 'ioredis is not installed' });
    expect(lines).toEqual(['\n4. Scale-out: skipped (npm install ioredis to run it)']);
  });

  it('prints one line on a real endpoint (it needs the simulator)', async () => {
    const { report, lines } = run({ REDIS_URL: 'redis://127.0.0.1:1' }, null);
    expect(await report).toEqual({ skipped: 'needs the built-in simulator' });
    expect(lines).toHaveLength(1);
  });

  it('prints one line, host:port only, when REDIS_URL does not answer (its password never printed)', async () => {
    const { report, lines } = run({ REDIS_URL: 'redis://:hunter2-SECRET@127.0.0.1:1/0' });
    expect(await report).toEqual({ skipped: 'Redis did not answer' });
    expect(lines).toEqual(['\n4. Scale-out: skipped (no answer from Redis at 127.0.0.1:1)']);
    expect(JSON.stringify(await report)).not.toContain('hunter2');
  }, 20_000);
});

describeWithRedis('scale-out section with a redis-server', () => {
  const redisServer = useRedisServer();

  it('three instance processes make one upstream call, and an answer cut on A resumes on B with the same text', async () => {
    const redis = redisServer.server;
    const { server, beforeResets } = recordingServer();
    const { report: pending, lines } = run({ REDIS_URL: redis.url }, server);
    const report = (await pending) as ScaleOutReport | SkippedSection;
    if ('skipped' in report) throw new Error(`skipped: ${report.skipped}`);

    // The simulator's own counters: part 1 (one call for three instances) plus the uninterrupted answer
    // asked before part 2; then part 2 alone: the resumed answer ran the model once.
    expect(beforeResets.map((stats) => stats.requests).slice(1)).toEqual([2]);
    expect(simulator.stats().requests).toBe(1);
    expect(report.singleFlight).toMatchObject({ callers: 3, upstream: 1, owners: 1, followers: 2, fallbacks: 0, sameText: true });
    expect(report.resume).toMatchObject({ cutAfter: 10, sameText: true, upstream: 1 });
    expect(report.resume.route).toEqual(['A', 'B (Last-Event-ID: 10)']);
    expect(report.resume.events).toBeGreaterThan(10);
    expect(report.redisErrors).toEqual([]);
    expect(report).toMatchObject({ redis: `127.0.0.1:${redis.port}`, redisFrom: 'REDIS_URL', instances: 3 });

    // Redis holds what the instances wrote: the resumable answer's events equal the uninterrupted text.
    const expected = await lastValueFrom(sseTransport({ baseURL: simulator.baseURL })(answerRequest(report.resume.streamId, MODEL, report.simulated)).pipe(text()));
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('rxllm-demo:*');
      expect(keys.some((key) => key.includes(':flight:'))).toBe(true);
      const [events] = keys.filter((key) => key.includes(':resume:') && key.endsWith(':events'));
      const entries = await client.xrange(events!, '-', '+');
      const stored = entries.map(([, fields]) => (fields[1] === '' ? (JSON.parse(fields[3]!) as { text: string }).text : '')).join('');
      expect(stored).toBe(expected);
      for (const key of keys) expect(await client.pttl(key)).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }

    expect(lines[0]).toBe(`\n4. Scale-out: 3 instance processes, one Redis (REDIS_URL, 127.0.0.1:${redis.port})`);
    expect(lines.slice(1)).toEqual([
      '   the same question on all 3 at once: 1 upstream call, same text on all',
      `   an answer cut on A after 10 of ${report.resume.events} events, resumed on B (Last-Event-ID: 10):`,
      '   same text as uninterrupted; the model ran once (1 upstream call)',
    ]);
  }, 300_000);
});
