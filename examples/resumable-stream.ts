/**
 * Resumable streams across instances: two app instances (two HTTP servers, each with its own ioredis client, as
 * two processes behind a load balancer would have) serve `GET /answers/:id` with `toServerSentEvents({ resume })`
 * and one `redisResumeStore` prefix. Instance A drops the connection mid-answer; the client
 * (`fromServerSentEvents`, which reconnects by itself with `Last-Event-ID`) is sent to instance B by the "load
 * balancer", and B serves the rest from Redis without asking the model again. The text equals the
 * uninterrupted answer.
 *
 *   redis-server --port 6390 --save '' &            # or any Redis you run
 *   REDIS_URL=redis://127.0.0.1:6390 npx ts-node examples/resumable-stream.ts
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { lastValueFrom, map, type Observable, tap, toArray } from 'rxjs';
import { fromServerSentEvents, type LlmRequest, text, tokens } from 'rxllm';
import { toServerSentEvents } from 'rxllm/node';
import { redisResumeStore } from 'rxllm/redis';
import { simulatedTransport } from 'rxllm/simulator';

const prefix = 'example:resume:';
const question = (id: string): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Explain in a few sentences why streams should be resumable (${id}).` }] });
// The model: the in-process simulator (seeded, so the "uninterrupted" answer below is the same text).
const model = simulatedTransport({ seed: 3 });

/** One app instance: its own Redis client and store, and a count of the model calls it made. */
async function instance(name: string, url: string, dropAfter?: number) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const store = redisResumeStore({ redis, prefix, ttl: 5 * 60_000 });
  const counts = { modelCalls: 0 };
  const server = createServer((req, res) => {
    const id = /^\/answers\/([\w-]+)$/.exec(req.url ?? '')?.[1];
    if (!id) return void res.writeHead(404).end();
    // The answer's tokens as { text } events. On a reconnect (Last-Event-ID), toServerSentEvents never subscribes
    // to this: it reads the rest from Redis. Only the first request for an id calls the model.
    const answer$: Observable<{ text: string }> = model(question(id)).pipe(
      tap({ subscribe: () => counts.modelCalls++ }),
      tokens(),
      map((token) => ({ text: token })),
    );
    if (dropAfter !== undefined) dropConnectionAfter(res, dropAfter);
    toServerSentEvents(answer$, res, { resume: { store, streamId: id } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    name,
    base,
    redis,
    store,
    counts,
    close: () => {
      server.closeAllConnections();
      redis.disconnect(); // the store never closes a client: the app does
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Instance A's fault, for the example: it destroys the connection after `count` events (a proxy timeout, a redeploy). */
function dropConnectionAfter(res: ServerResponse, count: number): void {
  let events = 0;
  const write = res.write.bind(res) as (chunk: unknown) => boolean;
  (res as { write: (chunk: unknown) => boolean }).write = (chunk) => {
    const ok = write(chunk);
    if (/^data: /m.test(Buffer.from(chunk as Uint8Array).toString('utf8')) && ++events === count) setTimeout(() => res.socket?.destroy(), 5);
    return ok;
  };
}

async function main(): Promise<void> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const a = await instance('A', url, 5);
  const b = await instance('B', url);
  try {
    await Promise.all([a.redis.ping(), b.redis.ping()]).catch((error: unknown) => {
      throw new Error(`no Redis at ${url} (${String(error)}): start one (redis-server --port 6390) and set REDIS_URL`);
    });
    // The load balancer: the first request goes to A, every later one to B.
    const sentTo: string[] = [];
    const balancer: typeof fetch = (input, init) => {
      const target = sentTo.length === 0 ? a : b;
      const lastEventId = new Headers(init?.headers).get('last-event-id');
      sentTo.push(`${target.name}${lastEventId ? ` (Last-Event-ID: ${lastEventId})` : ''}`);
      return fetch(`${target.base}${new URL(String(input)).pathname}`, init);
    };

    const id = `msg-${process.pid}`;
    const received = await lastValueFrom(
      fromServerSentEvents<{ text: string }>(`http://app.local/answers/${id}`, { fetch: balancer, reconnect: { attempts: 3, delayMs: 100 } }).pipe(
        map((event) => event.text),
        toArray(),
      ),
    );
    const uninterrupted = await lastValueFrom(model(question(id)).pipe(text()));
    console.log(`requests: ${sentTo.join(' → ')}`);
    console.log(`received ${received.length} tokens; the text equals the uninterrupted answer: ${received.join('') === uninterrupted}`);
    console.log(`model calls: instance A ${a.counts.modelCalls}, instance B ${b.counts.modelCalls}`);
    for (const key of (await a.redis.keys(`${prefix}*`)).sort()) {
      const type = await a.redis.type(key);
      const size = type === 'stream' ? `${await a.redis.xlen(key)} entries` : `${await a.redis.strlen(key)} bytes`;
      console.log(`key ${key}: ${type}, ${size}, expires in ${await a.redis.pttl(key)} ms`);
    }
    console.log('A', a.store.stats(), 'B', b.store.stats());
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
