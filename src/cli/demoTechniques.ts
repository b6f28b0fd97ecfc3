import { defer, forkJoin, lastValueFrom, map, mergeMap, type Observable, range, tap, timer, toArray } from 'rxjs';
import { isContentEvent, type LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import { withMiddleware, type Middleware, type Transport } from '../core/transport.js';
import { inLane } from '../load/lane.js';
import { LatencyHistogram } from '../metrics/LatencyHistogram.js';
import { LatencyRegistry } from '../metrics/LatencyRegistry.js';
import { batch, type BatchStats } from '../middleware/batch.js';
import { cache } from '../middleware/cache.js';
import { dedupe } from '../middleware/dedupe.js';
import { hedge } from '../middleware/hedge.js';
import { limit } from '../middleware/limit.js';
import { measure } from '../middleware/measure.js';
import { route, type RouteDecision } from '../middleware/route.js';
import type { SimulatorServer } from '../node/simulatorServer.js';
import { result } from '../operators/result.js';
import { prefetcher } from '../pipeline/prefetcher.js';
import { prefetchWhen } from '../pipeline/prefetchWhen.js';
import { defaultSimulatorProfiles } from '../simulator/profiles.js';
import { distributionQuantile, type SimulatorDistribution } from '../simulator/latency.js';
import { createRng } from '../simulator/prng.js';

/** Options for {@link runTechniques}. */
export interface TechniquesConfig {
  /**
   * The demo's endpoint, without the per-step `measure()` of the pipeline runs: every section
   * composes its own middleware over it.
   */
  transport: Transport;
  /**
   * The simulator server the demo started, when it did. With it, upstream calls are counted by
   * its `/stats`, every section runs on a short simulated profile it states (a per-request
   * `rxllm_sim` override), and hedging and routing run. Without it (a real endpoint), a counting
   * middleware counts the calls, the model's own latency applies, and hedging and routing are
   * skipped (they need a heavy-tailed profile and two deployments).
   */
  server?: SimulatorServer;
  /** The model of sections 1 and 3, and of the hedging run. */
  model: string;
  /** Prints one line of the report (the demo passes a no-op with `--json`). */
  log: (line: string) => void;
  /** Seeds `route()`'s exploration draws (the simulator's own seed decides the latencies). @defaultValue 1 */
  seed?: number;
}

/** Why a section did not run. */
export interface SkippedSection {
  skipped: string;
}

/** Times to first token of one run of requests, in ms. */
export interface RunPercentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Requests slower than the run's `slowMs`. */
  slow: number;
}

/** Section 1: `dedupe()`, `cache()` and `prefetcher()`. */
export interface DedupeCacheReport {
  /** The `rxllm_sim` override the section ran with (on the simulator). */
  simulated?: string;
  countedBy: CountedBy;
  dedupe: { identicalRequests: number; upstreamWithout: number; upstreamWith: number };
  /** Time to the whole answer: the first call (a miss) and the same request again (a hit). */
  cache: { missMs: number; hitMs: number; sameText: boolean; hits: number; misses: number };
  /** A likely follow-up: asked cold, and taken from a prefetch started when the summary finished. */
  prefetch: { coldMs: number; readingMs: number; takenMs: number; savedMs: number; hits: number };
}

/** Section 2: `hedge()` on a heavy-tailed profile and `route()` between two deployments. */
export interface HedgingRoutingReport {
  hedging: {
    simulated: string;
    requests: number;
    concurrency: number;
    after: string;
    /** Where "slow" starts: eight times the simulated median. */
    slowMs: number;
    /** Time to first token as the caller saw it. */
    without: RunPercentiles;
    with: RunPercentiles;
    /** Backups started by `hedge()`. */
    hedges: number;
    /** Backups not started because the budget was spent. */
    overBudget: number;
    /** Upstream calls of the hedged run beyond one per request. */
    extraRequests: number;
    /** Attempts `hedge()` cancelled (the losers), counted under it. */
    cancelled: number;
    /** Requests the simulator saw aborted during the hedged run. */
    serverAborts: number;
  };
  routing: {
    /** Each deployment's simulated profile: its built-in one at a fifth of the time. */
    simulated: Record<string, string>;
    requests: number;
    /** Requests sent to each deployment. */
    byCandidate: Record<string, number>;
    /** Why: `no-data` while learning, `fastest`, `exploring`. */
    byReason: Record<string, number>;
    /** Each deployment's time-to-first-token p95 as `route()` saw it at the end. */
    p95Ms: Record<string, number | undefined>;
    /** The faster deployment (by its profile's p95), and the share of requests it got. */
    faster: string;
    fasterShare: number;
    /** The requests routed once both deployments had `minSamples` (`fastest` and `exploring` decisions). */
    afterLearning: { requests: number; toFaster: number; share: number };
  };
}

/** Section 3: background work packed by `batch()` under `limit()`, with interactive requests beside it. */
export interface LoadControlReport {
  simulated?: string;
  countedBy: CountedBy;
  concurrency: number;
  reserve: number;
  background: number;
  interactive: number;
  /** Upstream calls while the background work and the interactive requests ran. */
  upstream: number;
  batch: BatchStats;
  backgroundWallMs: number;
  /** Time to first token of the interactive requests, alone and then beside the background work. */
  interactiveAloneMs: { p50: number; max: number };
  interactiveUnderLoadMs: { p50: number; max: number };
  /** How long requests of each lane waited in `limit()`'s queue (p95). */
  queueWaitP95Ms: { interactive: number; background: number };
}

/** What {@link runTechniques} measured: the `techniques` part of `rxllm demo --json`. */
export interface TechniquesReport {
  wallMs: number;
  dedupeCache: DedupeCacheReport;
  hedgingRouting: HedgingRoutingReport | SkippedSection;
  loadControl: LoadControlReport;
}

type CountedBy = "the simulator's /stats" | 'a counting middleware';

// Short simulated profiles keep the whole part within a few seconds; each section prints the one it used.
const CHAT_SIM = 'ttft=120,jitter=0,tail_p=0,tokens=24,tps=400';
const HEDGE_SIM = 'ttft=50,ttft_p95=80,tail_p=0.04,tail_x=15,tokens=4,tps=1000';
const LOAD_SIM = 'ttft=100,jitter=0,tail_p=0,tokens=12,tps=400';
const DEPLOYMENTS = ['gpt-4o-mini@eastus', 'gpt-4o-mini@westeurope'] as const;
const DEPLOYMENT_TIME_SCALE = 0.2;
const IDENTICAL = 8;
const READING_MS = 250;
// p90 rather than the article's p95: 200 requests with 4 % slow ones often hold 5 % or more of them by
// chance, and then the measured p95 lies in the tail itself, too late to hedge. A p90 hedge sends a
// backup for about one request in ten, so the budget allows 20 % (a few seeds need 12 %).
const HEDGE_AFTER = 'p90';
const HEDGE_BUDGET = { ratio: 0.2, burst: 10 };
const HEDGE_REQUESTS = 200;
const HEDGE_SLOW_MS = 400;
const HEDGE_CONCURRENCY = 30;
const ROUTE_REQUESTS = 60;
const ROUTE_CONCURRENCY = 6;
const BACKGROUND = 24;
const INTERACTIVE_EVERY_MS = 60;
const INTERACTIVE = 4;
const SLOTS = 5;
const RESERVE = 2;

/**
 * The techniques part of `rxllm demo`, after the four pipeline runs: three sections, each a few
 * printed lines and an entry of the returned report.
 *
 * 1. De-dup and cache: identical concurrent requests without and with `dedupe()` (upstream calls),
 *    a `cache()` hit against the miss, and a follow-up prefetched with `prefetcher()` while the
 *    user reads, answered at once.
 * 2. Hedging and routing (simulator only): time-to-first-token percentiles on a heavy-tailed
 *    profile without and with `hedge({ after: 'p90' })`, with the extra requests; `route()`
 *    between two deployments, with the share sent to the faster.
 * 3. Load control: background classifications packed by `batch()` under `limit()` (requests →
 *    upstream calls), and interactive latency beside them, kept by reserved slots.
 *
 * The sections run one after another, so the simulator's `/stats` counts each alone: about 4 s
 * of wall time on the simulator, about 1 s plus the endpoint's own latency elsewhere. Resolves with the report; rejects with the first request error.
 *
 * @example
 * ```ts
 * const techniques = await runTechniques({ transport, server: simulator, model: 'gpt-4o-mini', log: console.log });
 * console.log(techniques.dedupeCache.dedupe.upstreamWith); // 1
 * ```
 */
export async function runTechniques(config: TechniquesConfig): Promise<TechniquesReport> {
  const { server, log } = config;
  const startedAt = performance.now();
  log(
    server
      ? '\nTechniques (on the simulator, each section on the short simulated profile it names):'
      : '\nTechniques (on the real endpoint; hedging and routing need the simulator and are skipped):',
  );
  const dedupeCache = await dedupeAndCache(config);
  let hedgingRouting: HedgingRoutingReport | SkippedSection;
  if (server) hedgingRouting = await hedgingAndRouting(config, server);
  else {
    hedgingRouting = { skipped: 'needs the simulator (a heavy-tailed profile and two deployments): run without OPENAI_API_KEY' };
    log('\n2. Hedging and routing: skipped (they need the simulator: run without OPENAI_API_KEY)');
  }
  const loadControl = await loadControlSection(config);
  return { wallMs: Math.round(performance.now() - startedAt), dedupeCache, hedgingRouting, loadControl };
}

async function dedupeAndCache(config: TechniquesConfig): Promise<DedupeCacheReport> {
  const { model, log } = config;
  const upstream = upstreamCounter(config);
  const llm = config.server ? withMiddleware(upstream.transport, simulating(() => CHAT_SIM)) : upstream.transport;
  const article = 'Reactive pipelines start every independent model call at once, show tokens as they arrive, and cancel work nobody waits for.';
  const ask = (content: string): LlmRequest => ({ model, messages: [{ role: 'user', content }], temperature: 0, max_tokens: 60 });
  const summary = ask(`Summarize this text in one sentence:\n\n${article}`);

  // Several components ask the same question in the same tick.
  upstream.reset();
  await Promise.all(Array.from({ length: IDENTICAL }, () => answer(llm(summary))));
  const upstreamWithout = upstream.requests();
  upstream.reset();
  const shared = withMiddleware(llm, dedupe());
  await Promise.all(Array.from({ length: IDENTICAL }, () => answer(shared(summary))));
  const upstreamWith = upstream.requests();

  // dedupe() above cache(), as its docs advise: a burst of one key costs one lookup.
  const answers = cache({ ttl: 60_000 });
  const cached = withMiddleware(llm, dedupe(), answers);
  const keywords = ask(`Extract 5 keywords from this text:\n\n${article}`);
  const miss = await answer(cached(keywords));
  const hit = await answer(cached(keywords));
  const cacheStats = answers.stats();

  // While the user reads a summary, the follow-up they will likely ask for is already running.
  const ahead = prefetcher({ transport: cached, ttl: 10_000 });
  const followUp = ask(`List the three main claims of this text:\n\n${article}`);
  try {
    const withPrefetch = cached(ask(`Summarize this text for a busy reader:\n\n${article}`)).pipe(
      prefetchWhen(ahead, (event) => (event.type === 'finish' ? { name: 'likely_followup_claims', request: followUp } : null)),
    );
    // What the follow-up costs asked cold (straight to the endpoint), measured while the summary runs.
    const [cold] = await Promise.all([answer(llm(followUp)), answer(withPrefetch)]);
    await lastValueFrom(timer(READING_MS));
    const taken = await answer(ahead.take('likely_followup_claims', { request: followUp }));
    const prefetchStats = ahead.stats();
    const report: DedupeCacheReport = {
      ...(config.server ? { simulated: CHAT_SIM } : {}),
      countedBy: upstream.countedBy,
      dedupe: { identicalRequests: IDENTICAL, upstreamWithout, upstreamWith },
      cache: { missMs: round(miss.totalMs), hitMs: round(hit.totalMs, 2), sameText: miss.text === hit.text, hits: cacheStats.hits, misses: cacheStats.misses },
      prefetch: { coldMs: round(cold.totalMs), readingMs: READING_MS, takenMs: round(taken.totalMs, 2), savedMs: round(prefetchStats.latencySavedMs), hits: prefetchStats.hits },
    };
    log(`\n1. De-dup and cache${config.server ? ` (simulated: ${describeSim(CHAT_SIM)})` : ''}`);
    log(`   ${IDENTICAL} identical requests at once    ${upstreamWithout} upstream calls without dedupe(), ${upstreamWith} with it (counted by ${upstream.countedBy})`);
    log(`   the same request again          ${ms(miss.totalMs)} from the model, ${ms(hit.totalMs)} from cache() (same text: ${miss.text === hit.text ? 'yes' : 'no'})`);
    log(`   a likely follow-up              ${ms(cold.totalMs)} asked cold, ${ms(taken.totalMs)} prefetched while the user read for ${READING_MS}ms (saved ${ms(prefetchStats.latencySavedMs)})`);
    return report;
  } finally {
    ahead.clear();
  }
}

async function hedgingAndRouting(config: TechniquesConfig, server: SimulatorServer): Promise<HedgingRoutingReport> {
  const { log } = config;
  const hedging = await hedgingRun(config, server);
  // Not beside the hedging run: its load would slow the first deployment route() learns and mislead it.
  const routing = await routingRun(config);

  const { without, extraRequests: extra } = hedging;
  log(`\n2. Hedging and routing`);
  log(`   ${HEDGE_REQUESTS} requests, ${HEDGE_CONCURRENCY} at a time, simulated: ${describeSim(HEDGE_SIM)}`);
  log(`   hedge() sends a backup when no token came by the live ${HEDGE_AFTER}; budget: ${HEDGE_BUDGET.ratio * 100}% extra requests (burst ${HEDGE_BUDGET.burst})`);
  log(`   time to first token        ${['p50', 'p95', 'p99', 'max', `>${HEDGE_SLOW_MS}ms`].map((label) => label.padStart(7)).join(' ')}   extra requests`);
  log(`   without hedge()            ${percentileCells(without)}   –`);
  log(
    `   hedge({ after: '${HEDGE_AFTER}' })    ${percentileCells(hedging.with)}   +${extra} (${((extra / HEDGE_REQUESTS) * 100).toFixed(1)}%), ${hedging.cancelled} losers cancelled (the simulator saw ${hedging.serverAborts} aborts)`,
  );
  log(`   p99 ${ms(without.p99)} → ${ms(hedging.with.p99)} (${(without.p99 / Math.max(1, hedging.with.p99)).toFixed(1)}× lower)`);
  log(`   route() over the fast tier, ${ROUTE_REQUESTS} requests, ${ROUTE_CONCURRENCY} at a time (each deployment's built-in profile, at 1/${Math.round(1 / DEPLOYMENT_TIME_SCALE)} of its time):`);
  for (const name of DEPLOYMENTS) {
    const share = ((routing.byCandidate[name] ?? 0) / ROUTE_REQUESTS) * 100;
    log(`     ${name.padEnd(24)} ${String(routing.byCandidate[name] ?? 0).padStart(3)} requests (${share.toFixed(0).padStart(3)}%)   observed p95 first token ${ms(routing.p95Ms[name])}`);
  }
  log(
    `     ${routing.byReason['no-data'] ?? 0} requests while learning, then ${routing.afterLearning.toFaster} of ${routing.afterLearning.requests} to the faster (${(routing.afterLearning.share * 100).toFixed(0)}%; ${routing.byReason['exploring'] ?? 0} exploring)`,
  );
  return { hedging, routing };
}

async function hedgingRun(config: TechniquesConfig, server: SimulatorServer): Promise<HedgingRoutingReport['hedging']> {
  // The unhedged run also teaches the registry the percentile that the hedged run waits for.
  const attempts = new LatencyRegistry({ window: { requests: HEDGE_REQUESTS } });
  const sim = simulating(() => HEDGE_SIM);
  const ask = (i: number): LlmRequest => ({ model: config.model, messages: [{ role: 'user', content: `Classify support ticket #${i} as billing, bug or other.` }], max_tokens: 8 });
  const without = await firstTokens(withMiddleware(config.transport, measure({ registry: attempts }), sim), ask, HEDGE_REQUESTS, HEDGE_CONCURRENCY, HEDGE_SLOW_MS);
  let hedges = 0;
  let overBudget = 0;
  const sent = attemptCounter();
  server.resetStats();
  const hedged = withMiddleware(
    config.transport,
    hedge({
      after: HEDGE_AFTER,
      budget: HEDGE_BUDGET,
      registry: attempts,
      onHedge: (event) => {
        if (event.type === 'started') hedges++;
        else if (event.type === 'skipped' && event.reason === 'budget') overBudget++;
      },
    }),
    sent.middleware,
    measure({ registry: attempts }),
    sim,
  );
  const withHedge = await firstTokens(hedged, ask, HEDGE_REQUESTS, HEDGE_CONCURRENCY, HEDGE_SLOW_MS);
  return {
    simulated: HEDGE_SIM,
    requests: HEDGE_REQUESTS,
    concurrency: HEDGE_CONCURRENCY,
    after: HEDGE_AFTER,
    slowMs: HEDGE_SLOW_MS,
    without,
    with: withHedge,
    hedges,
    overBudget,
    extraRequests: sent.requests() - HEDGE_REQUESTS,
    cancelled: sent.cancelled(),
    serverAborts: server.stats().aborts,
  };
}

async function routingRun(config: TechniquesConfig): Promise<HedgingRoutingReport['routing']> {
  // The built-in profiles of two deployments of one model, scaled down in time.
  const simulated = Object.fromEntries(DEPLOYMENTS.map((name) => [name, scaledDeployment(name)]));
  const learned = new LatencyRegistry({ window: { requests: 50 } });
  const decisions: RouteDecision[] = [];
  // Seeded, so a seed gives the same exploration draws.
  const explore = createRng(config.seed ?? 1, 'demo-route');
  const routed = withMiddleware(
    config.transport,
    route({
      tiers: { fast: [...DEPLOYMENTS] },
      registry: learned,
      minSamples: 5,
      random: () => explore.next(),
      onDecision: (decision) => decisions.push(decision),
    }),
    measure({ registry: learned }),
    simulating((request) => simulated[request.model]),
  );
  const ask = (i: number): LlmRequest => ({ model: 'fast', messages: [{ role: 'user', content: `Suggest a title for note #${i}.` }], max_tokens: 8 });
  await firstTokens(routed, ask, ROUTE_REQUESTS, ROUTE_CONCURRENCY, Infinity);
  const byCandidate = countBy(decisions.map((decision) => decision.candidate), DEPLOYMENTS);
  const byReason = countBy(decisions.map((decision) => decision.reason));
  const p95Ms = Object.fromEntries(DEPLOYMENTS.map((name) => [name, roundOrUndefined(learned.percentile({ model: name, p: 95 }))]));
  // The faster by its profile: what route() had to find out.
  const faster = [...DEPLOYMENTS].sort((a, b) => profileP95(a) - profileP95(b))[0]!;
  const learnt = decisions.filter((decision) => decision.reason !== 'no-data');
  const toFaster = learnt.filter((decision) => decision.candidate === faster).length;
  return {
    simulated,
    requests: ROUTE_REQUESTS,
    byCandidate,
    byReason,
    p95Ms,
    faster,
    fasterShare: share(byCandidate[faster] ?? 0, decisions.length),
    afterLearning: { requests: learnt.length, toFaster, share: share(toFaster, learnt.length) },
  };
}

async function loadControlSection(config: TechniquesConfig): Promise<LoadControlReport> {
  const { model, log, server } = config;
  const upstream = upstreamCounter(config);
  const base = server ? withMiddleware(upstream.transport, simulating(() => LOAD_SIM)) : upstream.transport;
  const limiter = limit({ concurrency: SLOTS, reserve: { interactive: RESERVE } });
  const batcher = batch({ threshold: 2, maxBatchSize: 8, maxWaitMs: 100, forwardLane: true, load: () => limiter.stats().queued });
  // batch() above limit(): a packed request takes one slot, and limit() reads (then strips) the lane.
  const llm = withMiddleware(base, batcher, limiter);
  const classify = (i: number) =>
    llm(
      inLane('background', {
        model,
        temperature: 0,
        messages: [
          { role: 'system', content: 'Classify the sentiment of the review as positive or negative. Answer with one word.' },
          { role: 'user', content: `Review ${i}: ${i % 3 ? 'Love it, works as described.' : 'Broke after a day.'}` },
        ],
      }),
    ).pipe(result());
  const ask = (i: number) => ({ model, messages: [{ role: 'user' as const, content: `Interactive question ${i}: what does rxllm do?` }], max_tokens: 30 });
  // Interactive questions arrive one every INTERACTIVE_EVERY_MS, first alone, then beside the background burst.
  const interactiveRun = () =>
    lastValueFrom(range(0, INTERACTIVE).pipe(mergeMap((i) => timer(i * INTERACTIVE_EVERY_MS).pipe(mergeMap(() => timed(llm(ask(i)))))), toArray()));

  const alone = await interactiveRun();
  upstream.reset();
  const started = performance.now();
  const background = lastValueFrom(forkJoin(Array.from({ length: BACKGROUND }, (_, i) => classify(i)))).then(() => performance.now() - started);
  const [backgroundWallMs, underLoad] = await Promise.all([background, lastValueFrom(timer(10)).then(interactiveRun)]);
  const used = upstream.requests();
  const batchStats = batcher.stats();
  const { lanes } = limiter.stats();
  const aloneMs = summarize(alone.map((timing) => timing.firstTokenMs));
  const loadedMs = summarize(underLoad.map((timing) => timing.firstTokenMs));
  const report: LoadControlReport = {
    ...(server ? { simulated: LOAD_SIM } : {}),
    countedBy: upstream.countedBy,
    concurrency: SLOTS,
    reserve: RESERVE,
    background: BACKGROUND,
    interactive: INTERACTIVE,
    upstream: used,
    batch: batchStats,
    backgroundWallMs: round(backgroundWallMs),
    interactiveAloneMs: aloneMs,
    interactiveUnderLoadMs: loadedMs,
    queueWaitP95Ms: { interactive: round(lanes['interactive']?.wait?.p95 ?? 0), background: round(lanes['background']?.wait?.p95 ?? 0) },
  };
  log(`\n3. Load control: batch() over limit({ concurrency: ${SLOTS}, reserve: { interactive: ${RESERVE} } })${server ? ` (simulated: ${describeSim(LOAD_SIM)})` : ''}`);
  log(
    `   ${BACKGROUND} background classifications + ${INTERACTIVE} interactive questions → ${used} upstream calls (${batchStats.batches} packed requests for ${batchStats.batchedItems} classifications, ${batchStats.sentAlone} sent alone; counted by ${upstream.countedBy})`,
  );
  log(`   background work done in ${ms(backgroundWallMs)}; queue wait p95: background ${ms(report.queueWaitP95Ms.background)}, interactive ${ms(report.queueWaitP95Ms.interactive)}`);
  log(`   interactive first token    alone ${ms(aloneMs.p50)} (max ${ms(aloneMs.max)})   beside the background work ${ms(loadedMs.p50)} (max ${ms(loadedMs.max)})`);
  return report;
}

interface Timing {
  firstTokenMs: number;
  totalMs: number;
  text: string;
}

/** Times one request from subscribe: to its first content event and to its end (CLI measurement, not operator logic). */
function timed(events: Observable<LlmEvent>): Observable<Timing> {
  return defer(() => {
    const start = performance.now();
    let firstTokenMs: number | undefined;
    return events.pipe(
      tap((event) => {
        if (firstTokenMs === undefined && isContentEvent(event)) firstTokenMs = performance.now() - start;
      }),
      result(),
      map(({ text }) => {
        const totalMs = performance.now() - start;
        return { firstTokenMs: firstTokenMs ?? totalMs, totalMs, text };
      }),
    );
  });
}

function answer(events: Observable<LlmEvent>): Promise<Timing> {
  return lastValueFrom(timed(events));
}

/** Sends `count` requests, `concurrency` at a time; the percentiles of their time to first token, and how many took over `slowMs`. */
async function firstTokens(llm: Transport, ask: (i: number) => LlmRequest, count: number, concurrency: number, slowMs: number): Promise<RunPercentiles> {
  const timings = await lastValueFrom(range(0, count).pipe(mergeMap((i) => timed(llm(ask(i))), concurrency), toArray()));
  const histogram = new LatencyHistogram();
  for (const timing of timings) histogram.record(timing.firstTokenMs);
  const { p50, p95, p99, max } = histogram.summary()!;
  const slow = timings.filter((timing) => timing.firstTokenMs > slowMs).length;
  return { p50: round(p50), p95: round(p95), p99: round(p99), max: round(max), slow };
}

/** Counts the attempts sent through it, and those unsubscribed before they ended. */
function attemptCounter(): { middleware: Middleware; requests(): number; cancelled(): number } {
  let requests = 0;
  let cancelled = 0;
  const middleware: Middleware = (next) => (request) =>
    defer(() => {
      requests++;
      let ended = false;
      const end = () => void (ended = true);
      return next(request).pipe(tap({ complete: end, error: end, unsubscribe: () => void (ended || cancelled++) }));
    });
  return { middleware, requests: () => requests, cancelled: () => cancelled };
}

/** Counts upstream calls: from the simulator's /stats when there is one, else with a middleware over the transport. */
function upstreamCounter(config: TechniquesConfig): { transport: Transport; countedBy: CountedBy; reset(): void; requests(): number } {
  const { server } = config;
  if (server) return { transport: config.transport, countedBy: "the simulator's /stats", reset: () => server.resetStats(), requests: () => server.stats().requests };
  let requests = 0;
  return {
    transport: (request) => defer(() => (requests++, config.transport(request))),
    countedBy: 'a counting middleware',
    reset: () => void (requests = 0),
    requests: () => requests,
  };
}

/** Adds the simulator's per-request profile override (`rxllm_sim`) to each request. */
function simulating(override: (request: LlmRequest) => string | undefined): Middleware {
  return (next) => (request) => {
    const sim = override(request);
    return next(sim === undefined ? request : { ...request, rxllm_sim: sim });
  };
}

/** The p95 time to first token of a deployment's built-in profile, tail included. */
function profileP95(name: string): number {
  const profile = defaultSimulatorProfiles[name]!;
  return distributionQuantile(profile.ttftMs, profile.tail, 0.95);
}

/** A deployment's built-in profile with its times scaled down, as an override. */
function scaledDeployment(name: string): string {
  const profile = defaultSimulatorProfiles[name]!;
  const scale = (value: number) => Math.max(1, Math.round(value * DEPLOYMENT_TIME_SCALE));
  const ttft: SimulatorDistribution = profile.ttftMs;
  const time = typeof ttft === 'number' ? `ttft=${scale(ttft)}` : `ttft=${scale(ttft.median)},ttft_p95=${scale(ttft.p95)}`;
  const tail = profile.tail ? `,tail_p=${profile.tail.probability},tail_x=${profile.tail.multiplier}` : '';
  return `${time}${tail},tokens=4,tps=${Math.round(profile.tokensPerSecond / DEPLOYMENT_TIME_SCALE)}`;
}

/** `ttft=150,tokens=24,tps=400` for people. */
function describeSim(sim: string): string {
  const values = new Map(sim.split(',').map((part) => part.split('=') as [string, string]));
  const ttft = values.get('ttft_p95') ? `first token ${values.get('ttft')}ms median, ${values.get('ttft_p95')}ms p95` : `first token ${values.get('ttft')}ms`;
  const tailP = Number(values.get('tail_p') ?? 0);
  const tail = tailP > 0 ? `, ${tailP * 100}% of requests ${values.get('tail_x')}× slower` : '';
  return `${ttft}${tail}, ${values.get('tokens')} tokens at ${values.get('tps')} tokens/s`;
}

function countBy(values: readonly string[], keys: readonly string[] = []): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(keys.map((key) => [key, 0]));
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function summarize(values: readonly number[]): { p50: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(sorted[Math.floor((sorted.length - 1) / 2)] ?? 0), max: round(sorted.at(-1) ?? 0) };
}

function percentileCells(run: RunPercentiles): string {
  return [...[run.p50, run.p95, run.p99, run.max].map((value) => ms(value)), String(run.slow)].map((cell) => cell.padStart(7)).join(' ');
}

/** Milliseconds for the table: one decimal below 10 ms (a cache hit), whole numbers above. */
function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value < 10 ? `${value.toFixed(1)}ms` : `${Math.round(value)}ms`;
}

function share(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 100) / 100;
}

function round(value: number, digits = 0): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function roundOrUndefined(value: number | undefined): number | undefined {
  return value === undefined ? undefined : round(value);
}
