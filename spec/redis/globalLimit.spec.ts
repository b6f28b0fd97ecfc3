/*
 * The global limit across processes: three Node processes, each an app instance with
 * limit({ concurrency: 4, store: redisConcurrencyStore }), send 20 concurrent requests each to one simulator
 * server, whose own count of requests in flight (GET /stats, peakInFlight) must never pass 4. And the slots of
 * an instance killed mid-request (SIGKILL, so nothing is given back) come back after the lease.
 *
 * The instance is spec/redis/fixtures/limitInstance.ts, bundled once by esbuild (ioredis left external), so each
 * process starts in well under a second on a loaded machine; every process is bounded by a kill timer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import type { Redis } from 'ioredis';
import { startSimulatorServer, type SimulatorServer } from '../../src/node/simulatorServer';
import { describeWithRedis, useRedisServer } from '../helpers/redisServer';
import { waitFor } from '../helpers/waitFor';

interface Instance {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  /** Resolves with the `done` line (rejects if the process ends without one). */
  done: Promise<Record<string, unknown>>;
}

describeWithRedis('global limit across processes (limit() + redisConcurrencyStore)', () => {
  const redisServer = useRedisServer({ prefix: 'global' });
  let simulator: SimulatorServer;
  let dir: string;
  let bundle: string;
  const children: ChildProcess[] = [];
  let redis: Redis;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rxllm-global-limit-'));
    bundle = join(dir, 'limitInstance.js');
    buildSync({ entryPoints: [join(__dirname, 'fixtures', 'limitInstance.ts')], bundle: true, platform: 'node', target: 'node20', external: ['ioredis'], outfile: bundle, logLevel: 'error' });
    simulator = await startSimulatorServer({ seed: 3 });
    redis = redisServer.client();
  });
  redisServer.onClose(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await simulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = (env: Record<string, string>): Instance => {
    // NODE_PATH lets the bundle (written outside the repository) find ioredis in this repository's node_modules.
    const child = spawn(process.execPath, [bundle], {
      env: { ...process.env, NODE_PATH: join(__dirname, '..', '..', 'node_modules'), REDIS_URL: redisServer.url, BASE_URL: simulator.baseURL, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const guard = setTimeout(() => child.kill('SIGKILL'), 45_000); // bounded: a hung instance fails the test
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    let buffered = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    const done = new Promise<Record<string, unknown>>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
          const line = JSON.parse(buffered.slice(0, end)) as Record<string, unknown>;
          buffered = buffered.slice(end + 1);
          lines.push(line);
          if (line['event'] === 'done') resolve(line);
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(guard);
        reject(new Error(`instance exited (${code ?? signal}) without finishing: ${stderr.slice(0, 2_000)} ${JSON.stringify(lines.slice(-3))}`));
      });
    });
    done.catch(() => undefined); // awaited by the test that needs it; a killed instance never finishes
    return { child, lines, done };
  };

  it("3 instances × 20 concurrent requests, concurrency 4: the server's in-flight peak is 4, every request answered", async () => {
    simulator.resetStats();
    // A generous timeout: on a loaded machine a slow answer from Redis would otherwise count as an outage, and
    // the instance would start that request on its own count (by design; counted in storeFallbacks).
    const prefix = redisServer.prefix();
    const env = { PREFIX: prefix, CONCURRENCY: '4', COUNT: '20', LEASE_MS: '9000', TIMEOUT_MS: '3000', SIM: 'ttft=60,tokens=8' };
    const instances = [0, 1, 2].map(() => start(env));
    const results = await Promise.all(instances.map((instance) => instance.done));
    const limits = results.map((result) => result['limit'] as { storeFallbacks: number; storeRefusals: number });

    expect(results.map((result) => result['ok'])).toEqual([20, 20, 20]);
    expect(limits.map((stats) => stats.storeFallbacks)).toEqual([0, 0, 0]); // every request started on a shared slot
    const stats = simulator.stats();
    expect(stats.completed).toBe(60);
    expect(stats.peakInFlight).toBe(4); // reached, never passed, across all three processes
    // The instances contended for the shared slots (without the store each would have run 4 at once, 12 in
    // all). Which of them were refused depends on how their starts overlapped, so the count is summed.
    expect(limits.reduce((sum, stats) => sum + stats.storeRefusals, 0)).toBeGreaterThan(0);
    expect(await redis.zcard(`${prefix}slots`)).toBe(0); // every slot given back
  }, 60_000);

  it("an instance killed (SIGKILL) while holding every slot: its slots come back after the lease, and the next instance's requests then run", async () => {
    simulator.resetStats();
    // A lease of 4.5 s and a round-trip timeout of 1.5 s (a lease is at least 3 x the timeout): with 1.5 s and
    // 500 ms, a loaded machine's slow take timed out and the next instance started a request on its own count
    // (storeFallbacks 1, seen in a 'before' run under load).
    const lease = 4_500;
    const prefix = redisServer.prefix();
    const holder = start({ PREFIX: prefix, CONCURRENCY: '4', COUNT: '4', LEASE_MS: String(lease), TIMEOUT_MS: '1500', SIM: 'ttft=30000' });
    await waitFor(() => simulator.stats().inFlight >= 4, 'the holder having its 4 requests upstream', 20_000);
    holder.child.kill('SIGKILL');
    const killedAt = Date.now();
    const leases = await redis.zrange(`${prefix}slots`, '0', '-1', 'WITHSCORES');
    expect(leases).toHaveLength(8); // 4 slots, nothing given back: the process is gone
    const firstLeaseEnd = Math.min(...leases.filter((_, index) => index % 2 === 1).map(Number));

    // No secret reaches Redis: every key and member is a prefix, a random id and a counter; the API key the
    // instances sent upstream appears nowhere.
    const dump: string[] = [];
    for (const key of await redis.keys('*')) dump.push(key, ...(await redis.zrange(key, '0', '-1', 'WITHSCORES')));
    expect(dump).toHaveLength(9); // the key and its 4 members with their scores
    expect(dump.join('\n')).not.toContain('sk-test-not-a-secret');
    expect(dump.filter((_, index) => index > 0 && index % 2 === 1).every((member) => /^[0-9a-f-]{36}:\d+$/.test(member))).toBe(true);

    const next = start({ PREFIX: prefix, CONCURRENCY: '4', COUNT: '4', LEASE_MS: String(lease), TIMEOUT_MS: '1500', SIM: 'ttft=10,tokens=4' });
    // Watch the server for the next instance's first request, and read Redis's clock (the leases' clock) then.
    let arrivedAt: number | undefined;
    const watch = (async () => {
      // Also done when the instance ends first (exit, or its 45 s kill timer): next.done then fails the test with
      // its stderr, not this wait. Every 5 ms, since this poll times the arrival.
      await waitFor(() => simulator.stats().requests > 4 || next.child.exitCode !== null || next.child.signalCode !== null, "the next instance's first request reaching the server, or its exit", 50_000, 5);
      const [seconds, micros] = await redis.time();
      arrivedAt = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    })();
    const result = await next.done;
    await watch;
    const waited = Date.now() - killedAt;
    expect(result['ok']).toBe(4);
    // No request of the next instance reached the server before a dead holder's lease had ended.
    expect(arrivedAt).toBeGreaterThanOrEqual(firstLeaseEnd);
    expect(waited).toBeLessThan(lease + 10_000); // and they came back (bounded)
    expect((result['limit'] as { storeFallbacks: number }).storeFallbacks).toBe(0);
    expect(simulator.stats().aborts).toBe(4); // the killed instance's connections

  }, 60_000);
});
