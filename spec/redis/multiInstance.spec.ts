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

const root = resolve(__dirname, '..', '..');
const LEASE = 600;
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
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(JSON.parse(line) as Reply);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }
  ask(id: string, n: number, sim: string, content: string): void {
    this.child.stdin!.write(`${JSON.stringify({ id, n, sim, content })}\n`);
  }
  /** The first line matching `test`, waiting at most `boundMs`. */
  async wait(test: (reply: Reply) => boolean, what: string, boundMs = 15_000): Promise<Reply> {
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
      const instance = new Instance(child);
      running.push(instance);
      return instance;
    });
    await Promise.all(instances.map((instance) => instance.wait((reply) => reply.ready === true, 'ready line')));
    return instances;
  }
  const stop = (instances: Instance[]) => {
    for (const instance of instances) instance.child.stdin!.end();
  };

  it('3 instances × 50 identical concurrent requests make exactly 1 upstream call; all 150 get the same text; no API key in Redis', async () => {
    const instances = await startInstances(3);
    simulator.resetStats();
    for (const instance of instances) instance.ask('same', 50, 'ttft=400', 'Summarize: three instances behave as one.');
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
  });

  it('owner killed (SIGKILL) before any token: the followers re-run it with exactly one new owner', async () => {
    const [a, b, c] = await startInstances(3);
    simulator.resetStats();
    a!.ask('slow', 1, 'ttft=1500', 'Summarize: the owner dies before its first token.');
    await new Promise((wait) => setTimeout(wait, 200)); // A claims
    b!.ask('slow', 2, 'ttft=1500', 'Summarize: the owner dies before its first token.');
    c!.ask('slow', 2, 'ttft=1500', 'Summarize: the owner dies before its first token.');
    await new Promise((wait) => setTimeout(wait, 300));
    expect(simulator.stats().requests).toBe(1);
    a!.child.kill('SIGKILL');
    const [fromB, fromC] = await Promise.all([b!.results('slow'), c!.results('slow')]);
    const results = [...fromB.results!, ...fromC.results!];
    expect(results.filter((result) => result.error)).toEqual([]);
    expect(new Set(results.map((result) => result.text)).size).toBe(1);
    expect(simulator.stats().requests).toBe(2); // the dead owner's, and one re-run for B and C together
    expect(fromB.stats!['owned']! + fromC.stats!['owned']!).toBe(1);
    stop([b!, c!]);
  });

  it('owner killed mid-answer: a follower that has shown tokens errors with connection-lost and its partial text, within a bounded time', async () => {
    const [a, b, c] = await startInstances(3);
    const content = 'Summarize: the owner dies in the middle of its answer, and the follower must not pretend.';
    a!.ask('mid', 1, 'ttft=50,tps=20,tokens=80', content);
    await a!.wait((reply) => reply.id === 'mid' && reply.first === true, 'first token on A');
    b!.ask('mid', 3, 'ttft=50,tps=20,tokens=80', content);
    await b!.wait((reply) => reply.id === 'mid' && reply.first === true, 'first token on B');
    a!.child.kill('SIGKILL');
    const killed = Date.now();
    const fromB = await b!.results('mid');
    const noticed = Date.now() - killed;
    expect(noticed).toBeLessThan(LEASE + LEASE / 3 + 1_000 + 500); // the lease, a renewal, one XREAD block, slack
    for (const result of fromB.results!) {
      expect(result.error).toMatchObject({ code: 'connection-lost' });
      expect(result.error!.partialText.length).toBeGreaterThan(0);
    }
    expect(fromB.stats).toMatchObject({ ownerLost: 1, reruns: 0, owned: 0 });
    // The partial text is the start of the real answer: C asks afresh (a new owner) and gets it whole.
    c!.ask('whole', 1, 'ttft=50,tps=400,tokens=80', content);
    const whole = (await c!.results('whole')).results![0]!.text!;
    expect(whole.startsWith(fromB.results![0]!.error!.partialText)).toBe(true);
    expect(whole.length).toBeGreaterThan(fromB.results![0]!.error!.partialText.length);
    stop([b!, c!]);
  });
});
