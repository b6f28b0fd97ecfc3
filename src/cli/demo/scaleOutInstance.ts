// One app instance of the demo's scale-out section, run as its own Node process (forked by scaleOut.ts, which
// starts three). Like an app server behind a load balancer it has its own ioredis client, its own
// `redisInFlight` registry under `dedupe()`, its own `redisResumeStore`, and an HTTP server:
//   - IPC `ask`: one request through dedupe({ registry: redisInFlight(...) }) to the simulator; answers its text
//     and the registry's counts (did this instance own the call or follow another's);
//   - GET /answers/:id: the answer to answerRequest(id) as resumable Server-Sent Events
//     (toServerSentEvents with redisResumeStore), so a client cut off here can resume on another instance.
// It stops on an IPC `stop`, or when the demo goes away (the IPC channel closes).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lastValueFrom, map } from 'rxjs';
import type { RxllmError } from '../../core/errors.js';
import type { LlmRequest } from '../../core/request.js';
import { type Transport, withMiddleware } from '../../core/transport.js';
import { dedupe } from '../../middleware/dedupe.js';
import { toServerSentEvents } from '../../node/toServerSentEvents.js';
import { text } from '../../operators/text.js';
import { tokens } from '../../operators/tokens.js';
import { redisInFlight, type RedisInFlight } from '../../redis/redisInFlight.js';
import { redisResumeStore } from '../../redis/redisResumeStore.js';
import { sseTransport } from '../../transport/sse.js';
import { connectRedis, loadIoredis, type Redis } from './redisClient.js';
import { ANSWER_PATH, answerRequest, type FromInstance, type StartInstance, type ToInstance } from './scaleOutProtocol.js';

/** How long Redis has to answer the first PING before the instance reports it unreachable. */
const PING_BOUND_MS = 3_000;
/** How long a finished resumable answer stays in Redis (the demo's keys should not outlive it by much). */
const RESUME_TTL_MS = 60_000;

let running: { redis: Redis; registry: RedisInFlight; server: Server; llm: Transport } | undefined;
let stopping = false;

const say = (message: FromInstance) => {
  if (process.connected) process.send!(message);
};

process.on('message', (message: ToInstance) => {
  if (message.type === 'start') start(message).catch((error: unknown) => say({ type: 'failed', reason: 'other', message: messageOf(error) }));
  else if (message.type === 'ask') ask(message.request);
  else void stop();
});
// The demo ended (or was killed): nothing else will stop this process.
process.on('disconnect', () => void stop());

async function start(config: StartInstance): Promise<void> {
  const Redis = await loadIoredis();
  if (!Redis) return say({ type: 'failed', reason: 'no-ioredis', message: 'ioredis is not installed' });
  const connected = await connectRedis(Redis, config.redisUrl, PING_BOUND_MS);
  if ('unreachable' in connected) return say({ type: 'failed', reason: 'unreachable', message: connected.unreachable });
  const { redis } = connected;
  const onError = (error: RxllmError) => say({ type: 'redis-error', message: error.message });
  const registry = redisInFlight({ redis, prefix: `${config.prefix}flight:`, onError });
  const store = redisResumeStore({ redis, prefix: `${config.prefix}resume:`, ttl: RESUME_TTL_MS, onError });
  const llm = withMiddleware(sseTransport({ baseURL: config.baseURL }), dedupe({ registry }));

  const server = createServer((req, res) => {
    const id = req.method === 'GET' && req.url?.startsWith(ANSWER_PATH) ? req.url.slice(ANSWER_PATH.length) : '';
    if (!/^[\w-]{1,64}$/.test(id)) return void res.writeHead(404).end();
    // On a reconnect (Last-Event-ID) toServerSentEvents never subscribes to this: it reads the rest from Redis.
    const answer$ = llm(answerRequest(id, config.model, config.sim)).pipe(
      tokens(),
      map((token) => ({ text: token })),
    );
    toServerSentEvents(answer$, res, { resume: { store, streamId: id } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  running = { redis, registry, server, llm };
  say({ type: 'ready', port: (server.address() as AddressInfo).port });
}

function ask(request: LlmRequest): void {
  if (!running) return say({ type: 'answer-failed', message: 'the instance has not started' });
  const { registry, llm } = running;
  lastValueFrom(llm(request).pipe(text())).then(
    (answer) => say({ type: 'answer', text: answer, stats: registry.stats() }),
    (error: unknown) => say({ type: 'answer-failed', message: messageOf(error) }),
  );
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (running) {
    const { server, registry, redis } = running;
    server.closeAllConnections();
    server.close();
    // The registry closes the read connections it made; the client is this instance's own to close.
    await registry.close().catch(() => undefined);
    redis.disconnect();
  }
  if (process.connected) process.disconnect();
  process.exit(0);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
