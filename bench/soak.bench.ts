// Soak: many requests through the full middleware stack (dedupe, cache, retry, timeouts, hedge, limit,
// measure) over sseTransport against the simulator server on real sockets, with about 5 % of requests
// hit by a fault (429 with Retry-After, 500, 503, a connection reset before the first token, a cut
// mid-stream, a stall before the headers, a stall mid-stream) and about 5 % cancelled by the client at
// a random moment, at most 200 requests in flight. Not in the jest suite: `node bench/run.js soak`
// (SOAK_REQUESTS=2000 for a quick run; 20,000 by default).
//
// It checks, and prints, and exits non-zero when one fails:
// - every request ends exactly once: a value, a typed RxllmError, or the client's cancellation, and
//   nothing is emitted after its end;
// - no unhandled rejection, no uncaught error (RxJS reports unhandled errors that way too);
// - zero requests in flight on the server at the end (its GET /stats), and nothing in flight or
//   queued in dedupe() and limit();
// - no active handles, timers or sockets left once the server is closed
//   (process.getActiveResourcesInfo(), stdio aside);
// - heap flat after a warm-up: the median heap (after gc) over the last quarter of the run is within
//   5 % of the median over the first quarter (run with --expose-gc, as run.js does);
// - nothing partial in the cache: every entry ever stored is a whole answer (a finish event, and as
//   many tokens as its usage says).
import { request as httpRequest } from 'node:http';
import { Subscription, timer } from 'rxjs';
import { isRxllmError } from '../src/core/errors';
import type { LlmRequest } from '../src/core/request';
import { withMiddleware } from '../src/core/transport';
import type { CacheEntry, CacheStore } from '../src/cache/CacheStore';
import { memoryCacheStore } from '../src/cache/memoryCacheStore';
import { LatencyRegistry } from '../src/metrics/LatencyRegistry';
import { cache } from '../src/middleware/cache';
import { dedupe } from '../src/middleware/dedupe';
import { hedge } from '../src/middleware/hedge';
import { limit } from '../src/middleware/limit';
import { measure } from '../src/middleware/measure';
import { retry } from '../src/middleware/retry';
import { timeouts } from '../src/middleware/timeouts';
import { startSimulatorServer } from '../src/node/simulatorServer';
import type { SimulatorFault } from '../src/simulator/profiles';
import { sseTransport } from '../src/transport/sse';
import { writeResults } from './lib/writeResults';

const REQUESTS = Number(process.env['SOAK_REQUESTS'] ?? 20_000);
const CONCURRENCY = 200;
const CANCEL_SHARE = 0.05;
const SHARED_SHARE = 0.3; // of requests ask one of SHARED_PROMPTS prompts: cache hits and de-dup joins
const SHARED_PROMPTS = 40;
const MODEL = 'soak';

// About 5 % of requests in all, spread over every kind (the simulator tries them in order, one draw each).
const faults: SimulatorFault[] = [
  { type: 'status', status: 429, retryAfterMs: 20, probability: 0.01 },
  { type: 'status', status: 500, probability: 0.0075 },
  { type: 'status', status: 503, probability: 0.0075 },
  { type: 'disconnect', afterTokens: 0, probability: 0.0075 }, // reset after the headers, before a token
  { type: 'disconnect', afterTokens: 4, probability: 0.0075 }, // cut mid-stream
  { type: 'stall', probability: 0.005 }, // nothing, not even headers
  { type: 'stall', afterTokens: 3, probability: 0.005 }, // silence mid-stream
];
const profile = {
  ttftMs: { median: 60, p95: 150 },
  tokensPerSecond: 300,
  jitter: 0.3,
  outputTokens: 16,
  tail: { probability: 0.02, multiplier: 8 },
  faults,
};

type Ending = 'value' | 'error' | 'cancelled';
const ENDINGS: Ending[] = ['value', 'error', 'cancelled'];

/**
 * A store that checks every entry it is given as it is given, so partial answers are found without
 * keeping them (the soak's own bookkeeping must not grow with the run, or the heap check measures it).
 * Whole means: a finish event, nothing but usage after it, and as many text events as the usage's
 * completion_tokens (the simulator streams one token per event; a cut stream has fewer).
 */
function checkingStore(inner: CacheStore): CacheStore & { written: number; partial: number } {
  const counts = { written: 0, partial: 0 };
  const whole = (entry: CacheEntry) => {
    const finish = entry.events.findIndex((e) => e.type === 'finish');
    if (finish === -1 || entry.events.slice(finish + 1).some((e) => e.type !== 'finish' && e.type !== 'usage')) return false;
    const tokens = entry.events.filter((e) => e.type === 'text').length;
    const usage = entry.events.find((e) => e.type === 'usage');
    return tokens > 0 && (usage?.type !== 'usage' || usage.usage.completion_tokens === tokens);
  };
  return Object.assign(counts, {
    get: (key: string) => inner.get(key),
    set: (key: string, entry: CacheEntry, ttl: number) => {
      counts.written++;
      if (!whole(entry)) counts.partial++;
      return inner.set(key, entry, ttl);
    },
    delete: (key: string) => inner.delete(key),
    clear: () => inner.clear?.(),
    stats: () => inner.stats?.() ?? {},
  });
}

function getJson(url: string): Promise<unknown> {
  // node:http without an agent: the connection closes after the answer, leaving no socket behind.
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(JSON.parse(body)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const heapMb = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') console.warn('no --expose-gc: heap figures include garbage');
  let unhandledRejections = 0;
  let uncaughtErrors = 0;
  const firstProblems: string[] = [];
  process.on('unhandledRejection', (reason) => {
    unhandledRejections++;
    if (firstProblems.length < 5) firstProblems.push(`unhandled rejection: ${String(reason)}`);
  });
  process.on('uncaughtException', (error) => {
    uncaughtErrors++;
    if (firstProblems.length < 5) firstProblems.push(`uncaught: ${String(error)}`);
  });
  const resourcesBefore = process.getActiveResourcesInfo();

  const server = await startSimulatorServer({ seed: 11, profiles: { [MODEL]: profile } });
  const registry = new LatencyRegistry({ window: { requests: 500 } });
  const store = checkingStore(memoryCacheStore({ maxEntries: 500 }));
  const dedupeMw = dedupe();
  const cacheMw = cache({ store });
  const limitMw = limit({ concurrency: 100 });
  let retries = 0;
  const retryReasons: Record<string, number> = {};
  let hedges = 0;
  const llm = withMiddleware(
    sseTransport({ baseURL: server.baseURL }),
    dedupeMw,
    cacheMw,
    retry({
      maxRetries: 2,
      onRetry: ({ error }) => {
        retries++;
        const reason = isRxllmError(error) ? `${error.code}${error.limit ? `/${error.limit}` : ''}` : 'foreign';
        retryReasons[reason] = (retryReasons[reason] ?? 0) + 1;
      },
    }),
    // Each attempt waits for a slot outside its timeouts: time in the queue is not the server's silence.
    limitMw,
    timeouts({ firstToken: 5000, idle: 3000, total: 30_000 }),
    hedge({ after: 'p95', registry, minSamples: 50, onHedge: (e) => void (e.type === 'started' && hedges++) }),
    measure({ registry }),
  );

  // Per request, preallocated: how many times it ended, how (index in ENDINGS), events after its end.
  const ends = new Uint8Array(REQUESTS);
  const endings = new Uint8Array(REQUESTS).fill(255);
  const afterEnd = new Uint32Array(REQUESTS);
  let untypedErrors = 0;
  const errorCodes: Record<string, number> = {};
  const heap: { done: number; mb: number }[] = [];
  const started = Date.now();
  let next = 0;
  let done = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  let finish!: () => void;
  const allDone = new Promise<void>((resolve) => (finish = resolve));
  // A fixed pseudo-random sequence, so two runs send the same mix.
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

  const ended = (index: number, ending: Ending) => {
    if (++ends[index]! > 1) return;
    endings[index] = ENDINGS.indexOf(ending);
    inFlight--;
    done++;
    // 16 heap samples over the run: a full gc stops everything for a moment, so not too often.
    if (done % Math.max(1, Math.floor(REQUESTS / 16)) === 0) {
      heap.push({ done, mb: heapMb() });
      if (done % Math.max(1, Math.floor(REQUESTS / 4)) === 0) {
        console.log(`${done} / ${REQUESTS} in ${((Date.now() - started) / 1000).toFixed(1)} s, heap ${heap.at(-1)!.mb.toFixed(1)} MB`);
      }
    }
    if (done === REQUESTS) finish();
    // Not from inside the ending request's own callbacks: a cached answer replays synchronously.
    else setImmediate(launch);
  };

  const launch = () => {
    if (next >= REQUESTS) return;
    const index = next++;
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    const shared = random() < SHARED_SHARE;
    const prompt = shared ? `Tell me about topic ${Math.floor(random() * SHARED_PROMPTS)}` : `Request ${index}: tell me a story`;
    const request: LlmRequest = { model: MODEL, messages: [{ role: 'user', content: prompt }], temperature: 0 };
    const cancelAt = random() < CANCEL_SHARE ? Math.floor(random() * 400) : undefined;
    const subscription = new Subscription();
    subscription.add(
      llm(request, { step: 'soak' }).subscribe({
        next: () => {
          if (ends[index]! > 0) afterEnd[index]!++;
        },
        complete: () => {
          subscription.unsubscribe();
          ended(index, 'value');
        },
        error: (error: unknown) => {
          subscription.unsubscribe();
          if (!isRxllmError(error)) untypedErrors++;
          else errorCodes[error.code] = (errorCodes[error.code] ?? 0) + 1;
          ended(index, 'error');
        },
      }),
    );
    if (cancelAt !== undefined && !subscription.closed) {
      subscription.add(
        timer(cancelAt).subscribe(() => {
          subscription.unsubscribe();
          ended(index, 'cancelled');
        }),
      );
    }
  };

  for (let i = 0; i < Math.min(CONCURRENCY, REQUESTS); i++) launch();
  await allDone;
  const seconds = (Date.now() - started) / 1000;

  // The server counts a request out when it sees the client's connection close: give it a moment.
  let serverStats = (await getJson(`${server.url}/stats`)) as ReturnType<typeof server.stats>;
  for (let waited = 0; serverStats.inFlight > 0 && waited < 3000; waited += 100) {
    await sleep(100);
    serverStats = (await getJson(`${server.url}/stats`)) as ReturnType<typeof server.stats>;
  }
  const dedupeStats = dedupeMw.stats();
  const limitStats = limitMw.stats();
  const cacheStats = cacheMw.stats();
  await server.close();

  // Sockets close on the next turns of the event loop; wait until nothing new is left (or 3 s).
  const extra = () => {
    const left = [...process.getActiveResourcesInfo()];
    for (const name of resourcesBefore) {
      const at = left.indexOf(name);
      if (at !== -1) left.splice(at, 1);
    }
    return left;
  };
  for (let waited = 0; extra().length > 0 && waited < 3000; waited += 50) await sleep(50);
  // The sleep's own timer is gone by now; what is left is what the run left.
  const leftResources = extra();

  // Ends.
  const counts = { value: 0, error: 0, cancelled: 0 };
  let notEnded = 0;
  let endedTwice = 0;
  let emittedAfterEnd = 0;
  for (let i = 0; i < REQUESTS; i++) {
    if (ends[i] === 0) notEnded++;
    if (ends[i]! > 1) endedTwice++;
    if (endings[i] !== 255) counts[ENDINGS[endings[i]!]!]++;
    emittedAfterEnd += afterEnd[i]!;
  }
  const entriesWritten = store.written;
  const partialEntries = store.partial;

  const quarter = Math.max(1, Math.floor(heap.length / 4));
  const firstQuarter = median(heap.slice(0, quarter).map((h) => h.mb));
  // The last sample is taken with nothing in flight; compare like with like (requests in flight).
  const lastQuarter = median(heap.slice(-quarter - 1, -1).map((h) => h.mb));
  const heapGrowth = lastQuarter / firstQuarter - 1;

  const checks = {
    everyRequestEndedExactlyOnce: notEnded === 0 && endedTwice === 0 && emittedAfterEnd === 0 && counts.value + counts.error + counts.cancelled === REQUESTS,
    onlyTypedErrors: untypedErrors === 0,
    noUnhandledErrors: unhandledRejections === 0 && uncaughtErrors === 0,
    serverInFlightZero: serverStats.inFlight === 0,
    middlewareIdle: dedupeStats.inFlight === 0 && limitStats.inFlight === 0 && limitStats.queued === 0,
    noResourcesLeft: leftResources.length === 0,
    heapFlat: heapGrowth < 0.05,
    nothingPartialInCache: partialEntries === 0,
  };
  const results = {
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    peakInFlight,
    seconds: Math.round(seconds * 10) / 10,
    profile,
    cancelShare: CANCEL_SHARE,
    sharedShare: SHARED_SHARE,
    ends: counts,
    errorCodes,
    notEnded,
    endedTwice,
    emittedAfterEnd,
    untypedErrors,
    unhandledRejections,
    uncaughtErrors,
    firstProblems,
    retries,
    retryReasons,
    hedges,
    server: serverStats,
    dedupe: dedupeStats,
    limit: { inFlight: limitStats.inFlight, queued: limitStats.queued, peakQueued: limitStats.peakQueued },
    cache: { ...cacheStats, entriesWritten, partialEntries },
    resourcesBefore,
    resourcesLeft: leftResources,
    heapMb: { samples: heap.map((h) => ({ done: h.done, mb: Math.round(h.mb * 10) / 10 })), firstQuarter, lastQuarter, growth: Math.round(heapGrowth * 1000) / 1000 },
    checks,
  };
  console.log(
    `${REQUESTS} requests in ${results.seconds} s (peak ${peakInFlight} in flight): ${counts.value} values, ${counts.error} typed errors ` +
      `${JSON.stringify(errorCodes)}, ${counts.cancelled} cancelled; ${retries} retries, ${hedges} hedges; ` +
      `server saw ${serverStats.requests} requests (${serverStats.failed} failed, ${serverStats.aborts} aborted), ${serverStats.inFlight} in flight at the end`,
  );
  console.log(
    `cache: ${cacheStats.hits} hits, ${cacheStats.joined} joined, ${entriesWritten} entries written, ${partialEntries} partial; ` +
      `dedupe joined ${dedupeStats.joined}; heap (after gc) ${firstQuarter.toFixed(1)} → ${lastQuarter.toFixed(1)} MB (${(heapGrowth * 100).toFixed(1)} %); ` +
      `resources left: ${leftResources.length === 0 ? 'none' : leftResources.join(', ')}`,
  );
  for (const [name, ok] of Object.entries(checks)) console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
  for (const problem of firstProblems) console.log(problem);
  const file = writeResults('soak', results);
  console.log(`written to ${file}`);
  if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
