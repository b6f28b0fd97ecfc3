/*
 * Three real Node processes as app instances (spec/redis/fixtures/instance.ts, bundled once with esbuild), one
 * redis-server, one simulator server: cross-instance single flight seen from the outside.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { buildSync } from 'esbuild';
import { startSimulatorServer, type SimulatorServer } from '../../src/node/simulatorServer';
import { describeWithRedis, useRedisServer } from '../helpers/redisServer';
import { waitFor } from '../helpers/waitFor';

const root = resolve(__dirname, '..', '..');
// The claims' lease: the library's default. Each instance process renews every LEASE / 3; on a loaded machine
// (load 20 on 2 cores) a process can stall for well over half a second, and a shorter lease (600 ms here before)
// then lapsed under a live owner: the followers re-ran the call, and one request became two or three upstream.
const LEASE = 3_000;
const API_KEY = 'sk-multi-instance-SECRET-31337';

interface Result {
  text?: string;
  error?: { code: string; partialText: string; message: string };
}
interface Reply {
  id?: string;
  ready?: boolean;
  first?: boolean;
  results?: Result[];
  stats?: Record<string, number>;
}

/** One instance process: send it asks, wait for its lines. */
class Instance {
  readonly lines: Reply[] = [];
  private waiters: (() => void)[] = [];
  /** `child`, an instance process of the fleet whose Redis keys start with `prefix`. */
  constructor(
    readonly child: ChildProcess,
    readonly prefix: string,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(JSON.parse(line) as Reply);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }
  ask(id: string, n: number, sim: string, content: string): void {
    this.child.stdin!.write(`${JSON.stringify({ id, n, sim, content })}\n`);
  }
  /**
   * The first line matching `test`: woken by each line the child writes; `boundMs` is a safety net (a test whose
   * behaviour broke fails with `what`, rather than hanging), far above what a loaded machine needs.
   */
  async wait(test: (reply: Reply) => boolean, what: string, boundMs = 40_000): Promise<Reply> {
    const deadline = Date.now() + boundMs;
    for (;;) {
      const found = this.lines.find(test);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`instance ${this.child.pid}: no ${what} within ${boundMs} ms`);
      await new Promise<void>((wake) => {
        this.waiters.push(wake);
        setTimeout(wake, 50);
      });
    }
  }
  results(id: string): Promise<Reply> {
    return this.wait((reply) => reply.id === id && reply.results !== undefined, `results of ${id}`);
  }
}

describeWithRedis('three instances as one (real processes, redis-server, simulator server)', () => {
  const redis = useRedisServer({ prefix: 'fleet' });
  let simulator: SimulatorServer;
  let dir: string;
  let script: string;
  const running: Instance[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rxllm-instances-'));
    script = join(dir, 'instance.js');
    // Bundled once (well under a second): three ts-node start-ups would cost seconds each on a loaded machine.
    buildSync({ entryPoints: [join(__dirname, 'fixtures', 'instance.ts')], bundle: true, platform: 'node', target: 'node20', outfile: script, packages: 'external', logLevel: 'error' });
    simulator = await startSimulatorServer({ seed: 11 });
  });
  redis.onClose(async () => {
    for (const instance of running) if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGKILL');
    await simulator?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function startInstances(count: number): Promise<Instance[]> {
    const prefix = redis.prefix();
    const instances = Array.from({ length: count }, () => {
      const child = spawn(process.execPath, [script], {
        env: { ...process.env, NODE_PATH: join(root, 'node_modules'), REDIS_URL: redis.url, BASE_URL: simulator.baseURL, PREFIX: prefix, LEASE: String(LEASE), API_KEY },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const instance = new Instance(child, prefix);
      running.push(instance);
      return instance;
    });
    await Promise.all(instances.map((instance) => instance.wait((reply) => reply.ready === true, 'ready line')));
    return instances;
  }
  /**
   * Waits until `count` instances follow the flight of `instance`'s fleet: the members of its one subscriber set
   * (`<prefix>{<key>}:subs`, a follower's lease, added by its claim when the key was already owned).
   */
  async function followers(instance: Instance, count: number): Promise<void> {
    const client = redis.client();
    await waitFor(async () => {
      const sets = await client.keys(`${instance.prefix}*:subs`);
      return sets.length === 1 && (await client.zcard(sets[0]!)) === count;
    }, `${count} instances registered as followers under ${instance.prefix}`, 40_000);
  }
  const stop = (instances: Instance[]) => {
    for (const instance of instances) instance.child.stdin!.end();
  };

  it('3 instances × 50 identical concurrent requests make exactly 1 upstream call; all 150 get the same text; no API key in Redis', async () => {
    const instances = await startInstances(3);
    simulator.resetStats();
    // A first token 2 s out: every instance's claim lands while the owner's call runs, on a loaded machine too
    // (a claim after the owner's end would be a second owner: correct, but not this test's point).
    for (const instance of instances) instance.ask('same', 50, 'ttft=2000', 'Summarize: three instances behave as one.');
    const replies = await Promise.all(instances.map((instance) => instance.results('same')));
    const results = replies.flatMap((reply) => reply.results!);
    expect(results).toHaveLength(150);
    expect(results.filter((result) => result.error)).toEqual([]);
    const texts = new Set(results.map((result) => result.text));
    expect(texts.size).toBe(1);
    expect([...texts][0]!.length).toBeGreaterThan(0);
    expect(simulator.stats().requests).toBe(1);
    const stats = replies.map((reply) => reply.stats!);
    expect(stats.reduce((sum, s) => sum + s['owned']!, 0)).toBe(1);
    expect(stats.reduce((sum, s) => sum + s['followed']!, 0)).toBe(2);

    const client = redis.client();
    const dump: string[] = [];
    for (const key of await client.keys('*')) {
      dump.push(key);
      const type = await client.type(key);
      if (type === 'string') dump.push((await client.get(key)) ?? '');
      if (type === 'stream') dump.push(JSON.stringify(await client.xrange(key, '-', '+')));
      if (type === 'zset') dump.push(JSON.stringify(await client.zrange(key, '0', '-1')));
    }
    expect(dump.length).toBeGreaterThan(0);
    expect(dump.join('\n')).not.toContain(API_KEY);
    stop(instances);
  }, 60_000);

  it('owner killed (SIGKILL) before any token: the followers re-run it with exactly one new owner', async () => {
    const [a, b, c] = await startInstances(3);
    simulator.resetStats();
    // The first token 5 s out: far more than the set-up below takes on a loaded machine, so A dies before it.
    const sim = 'ttft=5000';
    a!.ask('slow', 1, sim, 'Summarize: the owner dies before its first token.');
    // A owns the claim: its upstream call (made only by a claim's owner) has reached the simulator.
    await waitFor(() => simulator.stats().requests === 1, "A's upstream call reaching the simulator", 40_000);
    b!.ask('slow', 2, sim, 'Summarize: the owner dies before its first token.');
    c!.ask('slow', 2, sim, 'Summarize: the owner dies before its first token.');
    // B and C follow A: both hold a follower's lease in the subscriber set.
    await followers(a!, 2);
    expect(simulator.stats().requests).toBe(1);
    expect(a!.lines.filter((reply) => reply.first)).toEqual([]); // no token reached a caller before the kill
    a!.child.kill('SIGKILL');
    const [fromB, fromC] = await Promise.all([b!.results('slow'), c!.results('slow')]);
    const results = [...fromB.results!, ...fromC.results!];
    expect(results.filter((result) => result.error)).toEqual([]);
    expect(new Set(results.map((result) => result.text)).size).toBe(1);
    expect(simulator.stats().requests).toBe(2); // the dead owner's, and one re-run for B and C together
    expect(fromB.stats!['owned']! + fromC.stats!['owned']!).toBe(1);
    stop([b!, c!]);
  }, 90_000);

  it('owner killed mid-answer: a follower that has shown tokens errors with connection-lost and its partial text, within a bounded time', async () => {
    const [a, b, c] = await startInstances(3);
    const content = 'Summarize: the owner dies in the middle of its answer, and the follower must not pretend.';
    // 200 tokens at 20 a second: A is still answering (10 s) when the set-up below, however slow, kills it.
    a!.ask('mid', 1, 'ttft=50,tps=20,tokens=200', content);
    await a!.wait((reply) => reply.id === 'mid' && reply.first === true, 'first token on A');
    b!.ask('mid', 3, 'ttft=50,tps=20,tokens=200', content);
    await b!.wait((reply) => reply.id === 'mid' && reply.first === true, 'first token on B');
    a!.child.kill('SIGKILL');
    const killed = Date.now();
    const fromB = await b!.results('mid');
    const noticed = Date.now() - killed;
    // Noticed through the lapsed lease (ownerLost below), in about LEASE + LEASE / 3 + one XREAD block (~5 s) on a
    // quiet machine. The bound says "bounded", with room for a loaded one: nothing but the lease could end B's
    // follow (A is dead), and without it B would wait until the 40 s bound of results().
    expect(noticed).toBeLessThan(20_000);
    for (const result of fromB.results!) {
      expect(result.error).toMatchObject({ code: 'connection-lost' });
      expect(result.error!.partialText.length).toBeGreaterThan(0);
    }
    expect(fromB.stats).toMatchObject({ ownerLost: 1, reruns: 0, owned: 0 });
    // The partial text is the start of the real answer: C asks afresh (a new owner) and gets it whole.
    c!.ask('whole', 1, 'ttft=50,tps=400,tokens=200', content);
    const whole = (await c!.results('whole')).results![0]!.text!;
    expect(whole.startsWith(fromB.results![0]!.error!.partialText)).toBe(true);
    expect(whole.length).toBeGreaterThan(fromB.results![0]!.error!.partialText.length);
    stop([b!, c!]);
  }, 60_000);
});
