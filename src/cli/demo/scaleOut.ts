import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { lastValueFrom, map, timeout, toArray } from 'rxjs';
import type { SimulatorServer } from '../../node/simulatorServer.js';
import { text } from '../../operators/text.js';
import { fromServerSentEvents } from '../../transport/fromServerSentEvents.js';
import { connectRedis, loadIoredis } from './redisClient.js';
import { findRedisServer, type RedisServer, startRedisServer } from './redisServer.js';
import { ANSWER_PATH, answerRequest, fleetRequest, type FromInstance, type ToInstance } from './scaleOutProtocol.js';
import type { SkippedSection, TechniquesConfig } from './types.js';

/** Section 4: three instance processes sharing one Redis. */
export interface ScaleOutReport {
  /** `host:port` of the Redis (never the URL: it may hold a password). */
  redis: string;
  /** Who provided it: a `redis-server` the demo started and stopped, or `REDIS_URL`. */
  redisFrom: 'started by the demo' | 'REDIS_URL';
  /** Instances, each a Node process of its own with its own ioredis client, registry and store. */
  instances: number;
  simulated: string;
  /** The same request asked on every instance at once, through `dedupe({ registry: redisInFlight(...) })`. */
  singleFlight: {
    callers: number;
    /** Requests the simulator received (its `/stats`). */
    upstream: number;
    /** Instances that ran the call upstream, and that followed it from Redis (their registries' counts). */
    owners: number;
    followers: number;
    /** Requests an instance ran alone because Redis failed. */
    fallbacks: number;
    sameText: boolean;
  };
  /** An answer streamed from instance A with a resume store, cut mid-answer, resumed on instance B. */
  resume: {
    /** The answer's stream id (the instances build its request from it: `answerRequest`). */
    streamId: string;
    /** Events (tokens) of the whole answer, as the client received them across both connections. */
    events: number;
    /** Events received from A before the cut. */
    cutAfter: number;
    /** The connections, in order: `A`, then `B (Last-Event-ID: n)`. */
    route: string[];
    /** The resumed text equals the same request answered without a cut. */
    sameText: boolean;
    /** Requests the simulator received for the resumed answer (its `/stats`): the model ran once. */
    upstream: number;
  };
  /** What Redis reported going wrong (the first message of each outage), when anything did. */
  redisErrors: string[];
}

const INSTANCES = 3;
// Slow enough that three instances asking at once overlap, and that the answer is cut while it streams.
const FLEET_SIM = 'ttft=300,jitter=0,tail_p=0,tokens=40,tps=100';
const CUT_AFTER = 10;
/** Bounds on every wait, in ms: a Redis or an instance that misbehaves ends the section, never hangs the demo. */
const BOUND_MS = {
  ping: 3_000,
  // Built, an instance is ready in a second or two. From the sources (the specs, the tmux test) each one compiles
  // its modules with ts-node: about 3 s of CPU, over a minute on a machine loaded 10x over (seen at load 27).
  ready: __filename.endsWith('.ts') ? 180_000 : 30_000,
  answer: 15_000,
  /** Between two events of the resumed stream (and before the first). */
  event: 10_000,
  stop: 3_000,
};
const TITLE = '4. Scale-out';

/**
 * Section 4 of the techniques: the fleet. Runs when `REDIS_URL` is set or a `redis-server` is on `PATH` (then
 * it starts one on a free loopback port with a temporary directory and no persistence, and stops it by pid at
 * the end, on an error and on Ctrl+C), with ioredis installed and the built-in simulator as the endpoint.
 * Forks three instance processes (scaleOutInstance.ts), each with its own ioredis client, `redisInFlight`
 * registry and `redisResumeStore`, and shows:
 *
 * 1. three instances, one upstream call: the same request on every instance at once, through
 *    `dedupe({ registry: redisInFlight(...) })`; the simulator's `/stats` counts the calls;
 * 2. a resumed stream: an answer streamed by instance A with `toServerSentEvents(..., { resume })`, the
 *    connection cut after {@link CUT_AFTER} events, `fromServerSentEvents` reconnecting to instance B with
 *    `Last-Event-ID`; the text is compared with the same request answered uninterrupted, and `/stats` says
 *    whether the model ran once.
 *
 * Otherwise it prints one line saying how to enable it and resolves with a {@link SkippedSection}. Keys are
 * written under a prefix unique to the run and expire by themselves. Rejects when an instance or Redis does
 * not answer within its bound (after stopping what it started).
 */
export async function scaleOutSection(config: TechniquesConfig): Promise<ScaleOutReport | SkippedSection> {
  const { log, server } = config;
  const skip = (why: string, hint: string): SkippedSection => {
    log(`\n${TITLE}: skipped (${hint})`);
    return { skipped: why };
  };
  if (!server) return skip('needs the built-in simulator', 'it needs the simulator, as hedging does');
  const env = config.env ?? {};
  const url = env['REDIS_URL'] || undefined;
  const binary = url ? undefined : findRedisServer(env['PATH'] ?? '');
  const ioredis = await loadIoredis();
  if (!url && !binary) {
    return skip('no Redis: neither REDIS_URL nor a redis-server on PATH', `set REDIS_URL or install redis-server${ioredis ? '' : ', and ioredis'}`);
  }
  if (!ioredis) return skip('ioredis is not installed', 'npm install ioredis to run it');
  const address = url ? hostPort(url) : undefined;
  if (url && !address) return skip('REDIS_URL is not a URL', 'REDIS_URL is not a redis://host:port URL');

  const fleet = new Fleet(url);
  try {
    const redis = binary ? await fleet.startRedis(binary).catch((error: unknown) => error as Error) : { url: url!, label: address! };
    if (redis instanceof Error) return skip(`redis-server did not start: ${redis.message}`, `the redis-server on PATH did not start; try REDIS_URL`);
    // Asked here first, so an unreachable REDIS_URL costs one bounded PING, not three processes.
    const probe = await connectRedis(ioredis, redis.url, BOUND_MS.ping);
    if ('redis' in probe) probe.redis.disconnect();
    if ('unreachable' in probe) return skip('Redis did not answer', `no answer from Redis at ${redis.label}`);
    await fleet.start(INSTANCES, { redisUrl: redis.url, baseURL: server.baseURL, prefix: `rxllm-demo:${randomBytes(6).toString('hex')}:`, model: config.model, sim: FLEET_SIM });
    if (fleet.unreachable) return skip('Redis did not answer', `no answer from Redis at ${redis.label}`);

    const singleFlight = await askEverywhere(fleet, server, config.model);
    const resume = await resumeElsewhere(fleet, server, config);
    const report: ScaleOutReport = {
      redis: redis.label,
      redisFrom: binary ? 'started by the demo' : 'REDIS_URL',
      instances: INSTANCES,
      simulated: FLEET_SIM,
      singleFlight,
      resume,
      redisErrors: fleet.redisErrors,
    };
    // Each line fits 80 columns (the techniques' header says who counts the upstream calls).
    log(`\n${TITLE}: ${INSTANCES} instance processes, one Redis (${binary ? "the demo's, " : 'REDIS_URL, '}${redis.label})`);
    log(`   the same question on all ${INSTANCES} at once: ${calls(singleFlight.upstream)}, ${singleFlight.sameText ? 'same text on all' : 'OTHER texts'}`);
    log(`   an answer cut on A after ${CUT_AFTER} of ${resume.events} events, resumed on ${resume.route.slice(1).join(' → ')}:`);
    log(`   ${resume.sameText ? 'same text as uninterrupted' : 'OTHER text than uninterrupted'}; the model ran ${resume.upstream === 1 ? 'once' : `${resume.upstream} times`} (${calls(resume.upstream)})`);
    if (fleet.redisErrors.length > 0) log(`   Redis reported: ${fleet.redisErrors[0]}`);
    return report;
  } finally {
    await fleet.close();
  }
}

/** Part 1: one request on every instance at once. */
async function askEverywhere(fleet: Fleet, server: SimulatorServer, model: string): Promise<ScaleOutReport['singleFlight']> {
  const request = fleetRequest('Why should many app instances asking the same question pay for one model call?', model, FLEET_SIM);
  server.resetStats();
  const answers = await Promise.all(fleet.instances.map((instance) => instance.ask(request)));
  const sum = (name: 'owned' | 'followed' | 'fallbacks') => answers.reduce((total, answer) => total + answer.stats[name], 0);
  return {
    callers: answers.length,
    upstream: server.stats().requests,
    owners: sum('owned'),
    followers: sum('followed'),
    fallbacks: sum('fallbacks'),
    sameText: answers.every((answer) => answer.text === answers[0]!.text && answer.text !== ''),
  };
}

/** Part 2: a resumable answer from instance A, cut after {@link CUT_AFTER} events, resumed on instance B. */
async function resumeElsewhere(fleet: Fleet, server: SimulatorServer, config: TechniquesConfig): Promise<ScaleOutReport['resume']> {
  const [a, b] = fleet.instances as [InstanceProcess, InstanceProcess];
  const id = `answer-${randomBytes(6).toString('hex')}`;
  // The same request answered without a cut, straight from the simulator (seeded: same request, same text).
  const uninterrupted = await lastValueFrom(config.transport(answerRequest(id, config.model, FLEET_SIM)).pipe(text(), timeout(BOUND_MS.answer)));
  server.resetStats();
  // The load balancer: the first connection goes to A and is cut mid-answer; every reconnect goes to B.
  const route: string[] = [];
  const balancer: typeof fetch = async (input, init) => {
    const first = route.length === 0;
    const lastEventId = new Headers(init?.headers).get('last-event-id');
    route.push(first ? 'A' : `B${lastEventId ? ` (Last-Event-ID: ${lastEventId})` : ''}`);
    const response = await fetch(`http://127.0.0.1:${(first ? a : b).port}${new URL(String(input)).pathname}`, init);
    return first ? cutAfterEvents(response, CUT_AFTER) : response;
  };
  const received = await lastValueFrom(
    fromServerSentEvents<{ text: string }>(`http://instances.demo${ANSWER_PATH}${id}`, { fetch: balancer, reconnect: { attempts: 3, delayMs: 50 } }).pipe(
      timeout(BOUND_MS.event),
      map((event) => event.text),
      toArray(),
    ),
  );
  return { streamId: id, events: received.length, cutAfter: CUT_AFTER, route, sameText: received.join('') === uninterrupted, upstream: server.stats().requests };
}

/**
 * `response` with its body ended right after its `count`-th event (a frame with an `id:`), as a proxy or load
 * balancer that drops the connection would; the real connection is cancelled, so the instance sees its client go.
 */
function cutAfterEvents(response: Response, count: number): Response {
  if (!response.body) return response;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = '';
  let seen = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) return controller.close();
      pending += decoder.decode(value, { stream: true });
      // Whole frames only (each ends with a blank line), so the cut falls between two events.
      let passed = 0;
      for (let end = pending.indexOf('\n\n'); end >= 0; end = pending.indexOf('\n\n', passed)) {
        const frame = pending.slice(passed, end + 2);
        passed = end + 2;
        if (/^id:/m.test(frame) && ++seen === count) {
          controller.enqueue(encoder.encode(pending.slice(0, passed)));
          controller.close();
          await reader.cancel().catch(() => undefined);
          return;
        }
      }
      if (passed > 0) controller.enqueue(encoder.encode(pending.slice(0, passed)));
      pending = pending.slice(passed);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** What the section started: the redis-server (when it started one) and the instance processes; stopped by pid. */
class Fleet {
  readonly instances: InstanceProcess[] = [];
  readonly redisErrors: string[] = [];
  unreachable = false;
  private redis: RedisServer | undefined;
  // Ctrl+C or an exit while the section runs: stop what it started by pid, then let the signal do what it does.
  private readonly onExit = () => this.killNow();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.killNow();
    this.unhook();
    process.kill(process.pid, signal);
  };

  constructor(private readonly redisUrl: string | undefined) {
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  async startRedis(binary: string): Promise<{ url: string; label: string }> {
    this.redis = await startRedisServer(binary);
    return { url: this.redis.url, label: `127.0.0.1:${this.redis.port}` };
  }

  async start(count: number, start: Omit<Extract<ToInstance, { type: 'start' }>, 'type'>): Promise<void> {
    const { path, execArgv } = instanceModule();
    for (let i = 0; i < count; i++) {
      const child = fork(path, [], { execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      this.instances.push(new InstanceProcess(child, String.fromCharCode(65 + i), (message) => this.redisErrors.push(this.redact(message))));
    }
    for (const instance of this.instances) instance.send({ type: 'start', ...start });
    const ready = await Promise.all(this.instances.map((instance) => instance.next(['ready', 'failed'], 'ready', BOUND_MS.ready)));
    for (const [index, message] of ready.entries()) {
      if (message.type === 'ready') this.instances[index]!.port = message.port;
      else if (message.reason === 'unreachable') this.unreachable = true;
      else throw new Error(`instance ${this.instances[index]!.name} could not start: ${this.redact(message.message)}`);
    }
  }

  /** Stops the instances (asked, then SIGKILL after a bound) and the redis-server the section started. */
  async close(): Promise<void> {
    await Promise.all(this.instances.map((instance) => instance.stop(BOUND_MS.stop)));
    await this.redis?.close();
    this.unhook();
  }

  private killNow(): void {
    for (const instance of this.instances) instance.kill();
    this.redis?.killNow();
  }

  private unhook(): void {
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  /** `message` without the Redis URL or its password: neither is ever printed. */
  private redact(message: string): string {
    if (!this.redisUrl) return message;
    let out = message.split(this.redisUrl).join('<REDIS_URL>');
    const password = safeUrl(this.redisUrl)?.password;
    if (password) out = out.split(password).join('***').split(decodeURIComponent(password)).join('***');
    return out;
  }
}

/** One forked instance: its IPC messages, waited for with a bound. */
class InstanceProcess {
  port = 0;
  private readonly inbox: FromInstance[] = [];
  private wake: (() => void) | undefined;
  private stderr = '';

  constructor(
    private readonly child: ChildProcess,
    readonly name: string,
    onRedisError: (message: string) => void,
  ) {
    child.on('message', (message: FromInstance) => {
      if (message.type === 'redis-error') onRedisError(message.message);
      else this.inbox.push(message);
      this.wake?.();
    });
    child.once('exit', () => this.wake?.());
    child.stderr?.setEncoding('utf8').on('data', (part: string) => (this.stderr = (this.stderr + part).slice(-2000)));
  }

  send(message: ToInstance): void {
    if (this.child.connected) this.child.send(message);
  }

  async ask(request: Extract<ToInstance, { type: 'ask' }>['request']): Promise<Extract<FromInstance, { type: 'answer' }>> {
    this.send({ type: 'ask', request });
    const answer = await this.next(['answer', 'answer-failed'], 'answer', BOUND_MS.answer);
    if (answer.type === 'answer-failed') throw new Error(`instance ${this.name}: ${answer.message}`);
    return answer;
  }

  /** The next message of one of `types`, waiting at most `boundMs`. */
  async next<T extends FromInstance['type']>(types: T[], what: string, boundMs: number): Promise<Extract<FromInstance, { type: T }>> {
    const deadline = Date.now() + boundMs;
    for (;;) {
      const index = this.inbox.findIndex((message) => (types as string[]).includes(message.type));
      if (index >= 0) return this.inbox.splice(index, 1)[0] as Extract<FromInstance, { type: T }>;
      if (this.exited) throw new Error(`instance ${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) before its ${what}${this.stderr ? `: ${this.stderr.trim().split('\n').at(-1)}` : ''}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`instance ${this.name}: no ${what} within ${boundMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Asks it to stop, then kills it by pid when it has not exited within `boundMs`. */
  async stop(boundMs: number): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ type: 'stop' });
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), boundMs)))]);
    clearTimeout(timer);
    if (late) {
      this.kill();
      await exited;
    }
  }

  kill(): void {
    if (!this.exited && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
  }

  private get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
}

/**
 * The instance module beside the running one: TypeScript (through ts-node) beside this file when the CLI runs from
 * the sources (the tests), JavaScript beside dist/cjs/cli/main.js when it runs built (the CLI is bundled into that
 * one file, and scripts/bundle.mjs writes the instance entry next to it).
 */
function instanceModule(): { path: string; execArgv: string[] } {
  // The CLI is built as CommonJS only (tsconfig.build.esm.json leaves src/cli out), so __filename is there.
  const fromSources = __filename.endsWith('.ts');
  return {
    path: join(__dirname, `scaleOutInstance.${fromSources ? 'ts' : 'js'}`),
    execArgv: fromSources ? ['-r', require.resolve('ts-node/register/transpile-only')] : [],
  };
}

function calls(count: number): string {
  return `${count} upstream call${count === 1 ? '' : 's'}`;
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** `host:port` of a Redis URL (6379 when it names none), or undefined when it is not a URL. */
function hostPort(url: string): string | undefined {
  const parsed = safeUrl(url);
  if (!parsed || !parsed.hostname) return undefined;
  return `${parsed.hostname}:${parsed.port || '6379'}`;
}
