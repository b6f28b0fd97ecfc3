import { lastValueFrom, type Observable, timer } from 'rxjs';
import type { LlmEvent } from '../../core/events.js';
import type { LlmRequest } from '../../core/request.js';
import { withMiddleware } from '../../core/transport.js';
import { cache } from '../../middleware/cache.js';
import { dedupe } from '../../middleware/dedupe.js';
import { prefetcher } from '../../pipeline/prefetcher.js';
import { prefetchWhen } from '../../pipeline/prefetchWhen.js';
import { ms, round } from './format.js';
import { timed, upstreamCounter, type CountedBy, type Timing } from './timing.js';
import { describeSim, simulating } from './simOverride.js';
import type { TechniquesConfig } from './types.js';

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

// Short simulated profiles keep the whole techniques part within a few seconds; the section prints the one it used.
const CHAT_SIM = 'ttft=120,jitter=0,tail_p=0,tokens=24,tps=400';
const IDENTICAL = 8;
const READING_MS = 250;

/**
 * Section 1 of the techniques: identical concurrent requests without and with `dedupe()`, a
 * `cache()` hit against the miss, and a follow-up prefetched with `prefetcher()` while the user reads.
 */
export async function dedupeAndCache(config: TechniquesConfig): Promise<DedupeCacheReport> {
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

  // A burst of one key costs one lookup either way: cache() shares in-flight requests as dedupe() does.
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
    // Each line fits 80 columns (the techniques' header says who counts the upstream calls).
    log(`   ${IDENTICAL} identical requests at once: ${upstreamWithout} upstream calls without dedupe(), ${upstreamWith} with it`);
    log(`   the same request again: ${ms(miss.totalMs)} from the model, ${ms(hit.totalMs)} from cache()${miss.text === hit.text ? ', same text' : ', OTHER text'}`);
    log(`   a likely follow-up: ${ms(cold.totalMs)} cold, ${ms(taken.totalMs)} prefetched (the user read ${READING_MS}ms first)`);
    return report;
  } finally {
    ahead.clear();
  }
}

function answer(events: Observable<LlmEvent>): Promise<Timing> {
  return lastValueFrom(timed(events));
}
