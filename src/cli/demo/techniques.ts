import { dedupeAndCache, type DedupeCacheReport } from './dedupeCache.js';
import { hedgingAndRouting, type HedgingRoutingReport } from './hedgingRouting.js';
import { loadControlSection, type LoadControlReport } from './loadControl.js';
import { scaleOutSection, type ScaleOutReport } from './scaleOut.js';
import type { SkippedSection, TechniquesConfig } from './types.js';

export type { DedupeCacheReport, HedgingRoutingReport, LoadControlReport, ScaleOutReport, SkippedSection };

/** What {@link runTechniques} measured: the `techniques` part of `rxllm demo --json`. */
export interface TechniquesReport {
  wallMs: number;
  dedupeCache: DedupeCacheReport;
  hedgingRouting: HedgingRoutingReport | SkippedSection;
  loadControl: LoadControlReport;
  scaleOut: ScaleOutReport | SkippedSection;
}

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
 * 4. Scale-out (simulator only, with `REDIS_URL` or a `redis-server` on `config.env`'s PATH, and
 *    ioredis): three instance processes sharing one Redis make one upstream call for the same
 *    request, and an answer cut on one instance resumes on another (see `scaleOutSection`);
 *    otherwise one line says how to enable it.
 *
 * The sections run one after another, so the simulator's `/stats` counts each alone: about 4 s
 * of wall time on the simulator (plus a few seconds for the scale-out processes), about 1 s plus the endpoint's own latency elsewhere. Resolves with the report; rejects with the first request error.
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
      ? '\nTechniques (each on the simulated profile it names; calls counted by /stats):'
      : '\nTechniques (on the real endpoint; a counting middleware counts upstream calls):',
  );
  const dedupeCache = await dedupeAndCache(config);
  let hedgingRouting: HedgingRoutingReport | SkippedSection;
  if (server) hedgingRouting = await hedgingAndRouting(config, server);
  else {
    hedgingRouting = { skipped: 'needs the simulator (a heavy-tailed profile and two deployments): run without OPENAI_API_KEY and OPENAI_BASE_URL' };
    log('\n2. Hedging and routing: skipped (they need the simulator: unset OPENAI_BASE_URL and OPENAI_API_KEY)');
  }
  const loadControl = await loadControlSection(config);
  const scaleOut = await scaleOutSection(config);
  return { wallMs: Math.round(performance.now() - startedAt), dedupeCache, hedgingRouting, loadControl, scaleOut };
}
