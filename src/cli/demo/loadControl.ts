import { forkJoin, lastValueFrom, mergeMap, range, timer, toArray } from 'rxjs';
import { withMiddleware } from '../../core/transport.js';
import { batch, type BatchStats } from '../../middleware/batch.js';
import { limit } from '../../middleware/limit.js';
import { result } from '../../operators/result.js';
import { ms, round } from './format.js';
import { timed, upstreamCounter, type CountedBy } from './timing.js';
import { describeSim, simulating } from './simOverride.js';
import type { TechniquesConfig } from './types.js';

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

// Short simulated profiles keep the whole techniques part within a few seconds; the section prints the one it used.
const LOAD_SIM = 'ttft=100,jitter=0,tail_p=0,tokens=12,tps=400';
const BACKGROUND = 24;
const INTERACTIVE_EVERY_MS = 60;
const INTERACTIVE = 4;
const SLOTS = 5;
const RESERVE = 2;

/**
 * Section 3 of the techniques: background classifications packed by `batch()` under `limit()`
 * (requests → upstream calls), and interactive latency beside them, kept by reserved slots.
 */
export async function loadControlSection(config: TechniquesConfig): Promise<LoadControlReport> {
  const { model, log, server } = config;
  const upstream = upstreamCounter(config);
  const base = server ? withMiddleware(upstream.transport, simulating(() => LOAD_SIM)) : upstream.transport;
  const limiter = limit({ concurrency: SLOTS, reserve: { interactive: RESERVE } });
  const batcher = batch({ threshold: 2, maxBatchSize: 8, maxWaitMs: 100, load: () => limiter.stats().queued });
  // batch() above limit(): a packed request takes one slot. Both read the lane from the context; it is never sent.
  const llm = withMiddleware(base, batcher, limiter);
  const classify = (i: number) =>
    llm(
      {
        model,
        temperature: 0,
        messages: [
          { role: 'system', content: 'Classify the sentiment of the review as positive or negative. Answer with one word.' },
          { role: 'user', content: `Review ${i}: ${i % 3 ? 'Love it, works as described.' : 'Broke after a day.'}` },
        ],
      },
      { lane: 'background' },
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
  // Each line fits 80 columns (the techniques' header says who counts the upstream calls).
  log(`\n3. Load control: batch() over limit() (${SLOTS} slots, ${RESERVE} reserved for interactive)`);
  if (server) log(`   simulated: ${describeSim(LOAD_SIM)}`);
  log(`   ${BACKGROUND} background classifications + ${INTERACTIVE} interactive questions → ${used} upstream calls`);
  log(`   (${batchStats.batches} packed requests for ${batchStats.batchedItems} classifications, ${batchStats.sentAlone} sent alone)`);
  log(`   background done in ${ms(backgroundWallMs)}; queue wait p95 ${ms(report.queueWaitP95Ms.background)} background, ${ms(report.queueWaitP95Ms.interactive)} interactive`);
  log(`   interactive first token: alone ${ms(aloneMs.p50)} (max ${ms(aloneMs.max)}), loaded ${ms(loadedMs.p50)} (max ${ms(loadedMs.max)})`);
  return report;
}

function summarize(values: readonly number[]): { p50: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(sorted[Math.floor((sorted.length - 1) / 2)] ?? 0), max: round(sorted.at(-1) ?? 0) };
}
