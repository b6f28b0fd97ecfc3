import { defer, type Observable, tap, throwError } from 'rxjs';
import * as s from '../internal/check.js';
import { type RequestContext, stepOf } from '../core/context.js';
import { RxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import type { Middleware, Transport } from '../core/transport.js';
import type { LatencySource } from './latencySource.js';
import { functionSchema, latencySourceSchema, validateConfig } from '../core/validateConfig.js';
import { stepOptionRemoved } from './stepOptionRemoved.js';
import { withFields } from '../internal/withFields.js';

/** Quality tiers, fastest first. A request asks for one; a quality floor can raise it. */
export type Tier = 'ultra_fast' | 'fast' | 'balanced' | 'quality';

const TIERS: readonly Tier[] = ['ultra_fast', 'fast', 'balanced', 'quality'];

/** A model or deployment a tier can send to. A plain string is a model name sent through the wrapped transport. */
export interface RouteCandidate {
  /** Shown in decisions; also the model sent when `model` is absent. */
  name: string;
  /** The request's `model` for this candidate. @defaultValue `name` */
  model?: string;
  /** Where this candidate's requests go (another endpoint or deployment). @defaultValue the wrapped transport */
  transport?: Transport;
}

/**
 * Why a candidate was chosen:
 * - `only-candidate`: the tier has one.
 * - `fastest`: the lowest observed time to first token at the chosen percentile among the
 *   candidates with `minSamples` samples, also while others are still being probed.
 * - `exploring`: a random other candidate with `minSamples` samples, so one that recovers is noticed.
 * - `probing`: a candidate with fewer than `minSamples` samples, sent this request to learn its
 *   latency (only while its samples plus route's requests still out to it are fewer than `minSamples`).
 * - `no-data`: nothing to go by: no `registry`, or no candidate has a time to first token yet and
 *   every one still learning has its probes out.
 * - `not-routed`: the request named no tier and was sent as it is.
 */
export type RouteReason = 'only-candidate' | 'fastest' | 'exploring' | 'probing' | 'no-data' | 'not-routed';

/** One routing decision, as {@link RouteConfig.onDecision} sees it. */
export interface RouteDecision {
  /** The tier the request asked for (undefined when `not-routed`). */
  requested: Tier | undefined;
  /** The quality floor that applied, if any. */
  floor: Tier | undefined;
  /** The tier served: the higher of `requested` and `floor` (or the next one up with candidates). */
  tier: Tier | undefined;
  /** The candidate chosen, and the model it was asked for. */
  candidate: string;
  /** The model the candidate was asked for. */
  model: string;
  /** Why this candidate: the only one, the fastest, exploring, probing one with too few samples, no data yet, or `not-routed` (the model named no tier). */
  reason: RouteReason;
  /**
   * Each candidate's observed time to first token at the chosen percentile (undefined: fewer than
   * `minSamples` samples, or none of them with a first token).
   */
  ttftMs: Record<string, number | undefined>;
}

/** Options for {@link route}. */
export interface RouteConfig {
  /** The candidates of each tier. Candidates of one tier are treated as equivalent in quality. */
  tiers: Partial<Record<Tier, readonly (string | RouteCandidate)[]>>;
  /**
   * The tier a request asks for. @defaultValue the request's `model` when it is a tier name
   * (`model: 'fast'`); otherwise the request is not routed
   */
  tier?: Tier | ((request: LlmRequest) => Tier | undefined);
  /** The lowest tier a request may be served by; it overrides a faster tier asked for. */
  qualityFloor?: Tier | ((request: LlmRequest) => Tier | undefined);
  /**
   * Observed latency, usually the `LatencyRegistry` that `measure()` (inside `route()`) fills, read
   * under each candidate's model and the request's step (the request context's `step`, else the
   * candidate's model: the keys `measure()` records under), so each step learns its candidates on
   * its own prompts. Without it the first candidate is used (`no-data`).
   */
  registry?: LatencySource;
  /**
   * The percentile of time to first token compared: 50 for typical speed, 95 for the tail. While a
   * candidate has few samples, all are compared at the highest percentile its fewest samples can
   * estimate (1 − 1/n, at least 50: p80 for 5 samples, the full p95 from 20), since the p95 of a
   * handful of samples is their maximum and one slow outlier would rank a fast candidate last.
   * @defaultValue 95
   */
  percentile?: number;
  /**
   * Samples (requests of any outcome in the registry's window) a candidate needs before its latency
   * is trusted. A candidate with fewer is probed: sent requests only while its samples plus the
   * requests route() still has out to it are fewer than this, so learning a candidate costs this many
   * requests however long they take to end; the other requests go to the fastest known candidate.
   * Samples and requests out are counted per step. A candidate whose samples leave the window is
   * probed again. Requests out are this route()'s own: other app instances sharing a registry are
   * seen once their samples land. 0 is taken as 1.
   * @defaultValue 5
   */
  minSamples?: number;
  /** Share of requests sent to a random other known candidate of the tier (one with `minSamples` samples). @defaultValue 0.05 */
  explore?: number;
  /** Random numbers in [0, 1) for exploration. @defaultValue Math.random */
  random?: () => number;
  /** Called with every decision, when the request is subscribed. */
  onDecision?: (decision: RouteDecision) => void;
}

/**
 * Middleware: picks the model or deployment for each request. The request names a tier
 * (`ultra_fast`, `fast`, `balanced`, `quality`); a quality floor can raise it; among the tier's
 * equivalent candidates the one with the lowest observed time to first token (p95 by default, from
 * the latency registry) wins, with a little exploration so a candidate that recovers gets traffic
 * again. The request's `model` is rewritten to the candidate's.
 *
 * ```text
 * route({ tiers: { fast: ['a', 'b'] }, registry })     a: p95 400 ms, b: p95 250 ms
 * request:  { model: 'fast', ... }
 * sent:     { model: 'b', ... } through the wrapped transport      decision: fastest
 * ```
 *
 * Warm-up: a candidate with fewer than `minSamples` samples is probed, but samples only land when
 * requests end, so route() counts the requests it has out to each candidate (from subscribe until
 * complete, error or unsubscribe) and probes a candidate only while samples + requests out are
 * fewer than `minSamples`: learning a candidate costs `minSamples` requests, not every request
 * until its answers are back. The other requests go to the fastest known candidate; while none is
 * known, to the one with the fewest requests out (the first listed on a tie). From a spec, with
 * `minSamples: 2`, a request every 10 ms, and answers taking 105 ms from a, 55 from b, 85 from c:
 *
 * ```text
 * request at:  0  10  20  30  40  50 | 60  70  80 | 90 100 110 ...
 * sent to:     a   a   b   b   c   c |  a   b   b |  b   b   b ...
 * reason:      probing               | no-data    | fastest (b's 2 samples landed at 75 and 85)
 * ```
 *
 * - **Emits**, **completes** and **errors** as the chosen candidate's transport does; errors at
 *   subscribe with `invalid-request` when no tier at or above the one asked for has candidates.
 * - **Decides** at subscribe, once per subscription, and reports it to `onDecision`; tells the
 *   request context's `onServed` (`{ model, by: 'route', candidate }`) when the chosen candidate
 *   sends its first event (a request that names no tier is not reported: it went where it said).
 * - **Unsubscribe** aborts the candidate's request (and it no longer counts as out).
 * - **Cold**: nothing is decided, counted or sent before subscribe.
 * - Passes the request context on unchanged to the candidate's transport.
 *
 * Put `measure({ registry })` inside `route()` so latency is recorded under each candidate's model.
 * Statistics are read per step (`context.step`, set by `step()`): one `route()` in one stack routes
 * each step of a pipeline by how the candidates do on that step.
 *
 * @throws {@link RxllmError} `invalid-config` on a bad option (no candidates at all, an unknown tier).
 *
 * @example
 * ```ts
 * const latency = new LatencyRegistry({ window: { requests: 100 } });
 * const llm = withMiddleware(
 *   sseTransport({ baseURL }),
 *   route({
 *     tiers: { fast: ['gpt-4o-mini@eastus', 'gpt-4o-mini@westeurope'], balanced: ['gpt-4o'], quality: ['gpt-4.1'] },
 *     qualityFloor: (r) => (r.response_format?.type === 'json_schema' ? 'balanced' : undefined),
 *     registry: latency,
 *     onDecision: (d) => log.debug(`${d.tier} → ${d.candidate} (${d.reason})`),
 *   }),
 *   measure({ registry: latency }),
 * );
 * llm({ model: 'fast', messages });
 * ```
 */
export function route(config: RouteConfig): Middleware {
  const parsed = validateConfig('route', configSchema, config);
  const { tier, qualityFloor, registry, percentile = 95, minSamples = 5, explore = 0.05, random = Math.random, onDecision } = parsed;
  const tiers = new Map<Tier, RouteCandidate[]>(
    TIERS.filter((t) => (parsed.tiers[t]?.length ?? 0) > 0).map((t) => [
      t,
      parsed.tiers[t]!.map((c) => (typeof c === 'string' ? { name: c } : c)),
    ]),
  );

  // Requests this route() has out, per (step, model) (the registry's key), from subscribe to their
  // end: the samples on their way, which count() cannot see yet. Entries leave at 0, so it holds at
  // most the pairs that have requests open.
  const inFlight = new Map<string, number>();
  const outKey = (query: Query) => `${query.step}\u0000${query.model}`;
  const needed = Math.max(1, minSamples);

  return (next) => (request, context) =>
    defer(() => {
      const requested = typeof tier === 'function' ? tier(request) : (tier ?? asTier(request.model));
      const floor = typeof qualityFloor === 'function' ? qualityFloor(request) : qualityFloor;
      if (requested === undefined) {
        onDecision?.({ requested, floor, tier: undefined, candidate: request.model, model: request.model, reason: 'not-routed', ttftMs: {} });
        return next(request, context);
      }
      const from = Math.max(TIERS.indexOf(requested), floor === undefined ? 0 : TIERS.indexOf(floor));
      const served = TIERS.slice(from).find((t) => tiers.has(t));
      if (served === undefined) {
        return throwError(
          () =>
            new RxllmError(
              'invalid-request',
              `route(): no candidates at tier "${TIERS[from]}" or above; add some to \`tiers\`, or lower the quality floor.`,
            ),
        );
      }
      const candidates = tiers.get(served)!;
      // The key measure() records the routed request under: its step, else the candidate's model.
      const queryFor = (candidate: RouteCandidate): Query => {
        const model = modelOf(candidate);
        return { model, step: stepOf(withFields(request, { model }), context) };
      };
      const { chosen, reason, ttftMs } = choose(candidates, queryFor);
      const model = modelOf(chosen);
      onDecision?.({ requested, floor, tier: served, candidate: chosen.name, model, reason, ttftMs });
      return counted(queryFor(chosen), chosen.name, context, (chosen.transport ?? next)(withFields(request, { model }), context));
    });

  function choose(
    candidates: RouteCandidate[],
    queryFor: (candidate: RouteCandidate) => Query,
  ): { chosen: RouteCandidate; reason: RouteReason; ttftMs: Record<string, number | undefined> } {
    const ttftMs: Record<string, number | undefined> = {};
    if (candidates.length === 1) return { chosen: candidates[0]!, reason: 'only-candidate', ttftMs };
    if (!registry) return { chosen: candidates[0]!, reason: 'no-data', ttftMs };
    const known: { candidate: RouteCandidate; query: Query; samples: number }[] = [];
    let probe: RouteCandidate | undefined;
    for (const candidate of candidates) {
      const query = queryFor(candidate);
      const samples = registry.count(query);
      ttftMs[candidate.name] = undefined;
      if (samples >= needed) known.push({ candidate, query, samples });
      else if (samples + (inFlight.get(outKey(query)) ?? 0) < needed) probe ??= candidate;
    }
    // Every known candidate is compared at the same percentile, the highest its fewest samples can
    // estimate: the p95 of 5 samples is their maximum, so one slow outlier would rank a fast candidate
    // last, and with only exploration traffic its window would keep the outlier for a long time.
    const fewest = Math.min(...known.map((k) => k.samples));
    const p = Math.min(percentile, Math.max(50, 100 * (1 - 1 / fewest)));
    let fastest: RouteCandidate | undefined;
    for (const { candidate, query } of known) {
      // A known candidate without a first token among its samples (all failed) ranks last but stays
      // known, so exploration keeps trying it: as an unknown one it would never be probed again.
      const value = registry.percentile(withFields(query, { p }));
      ttftMs[candidate.name] = value;
      if (value !== undefined && (fastest === undefined || value < ttftMs[fastest.name]!)) fastest = candidate;
    }
    if (probe) return { chosen: probe, reason: 'probing', ttftMs };
    if (!fastest) return { chosen: fewestOut(candidates, queryFor), reason: 'no-data', ttftMs };
    const others = known.map((k) => k.candidate).filter((c) => c !== fastest);
    if (others.length > 0 && random() < explore) {
      return { chosen: others[Math.floor(random() * others.length)]!, reason: 'exploring', ttftMs };
    }
    return { chosen: fastest, reason: 'fastest', ttftMs };
  }

  // Every candidate has its probes out and none is known: the one with the fewest requests still out
  // is the one whose answers end soonest, the only latency signal before samples land, and the extra
  // requests spread instead of piling onto the first (which may be the slowest). Ties go to the first
  // listed, the order the user wrote.
  function fewestOut(candidates: RouteCandidate[], queryFor: (candidate: RouteCandidate) => Query): RouteCandidate {
    const out = (c: RouteCandidate) => inFlight.get(outKey(queryFor(c))) ?? 0;
    return candidates.reduce((best, c) => (out(c) < out(best) ? c : best));
  }

  // Counted when the request is subscribed, so an observable never subscribed (or a transport that
  // throws instead of returning one) leaves no count.
  // Released before the end travels downstream (finalize would run after the subscriber's complete
  // and error callbacks), so a request sent from such a callback sees this one ended, like the
  // sample measure() has just recorded for it, instead of counting it twice.
  // The first event also tells the context's onServed who answered (inside tap, so a throw from it
  // errors this request instead of escaping as an unhandled error).
  function counted(query: Query, candidate: string, context: RequestContext | undefined, request$: Observable<LlmEvent>): Observable<LlmEvent> {
    const key = outKey(query);
    const release = () => {
      const left = (inFlight.get(key) ?? 1) - 1;
      if (left > 0) inFlight.set(key, left);
      else inFlight.delete(key);
    };
    const onServed = context?.onServed;
    let reported = onServed === undefined;
    return request$.pipe(
      // tap calls exactly one of complete, error and unsubscribe (the last only when the others did not run).
      tap({
        subscribe: () => inFlight.set(key, (inFlight.get(key) ?? 0) + 1),
        next: () => {
          if (reported) return;
          reported = true;
          onServed!({ model: query.model, by: 'route', candidate });
        },
        complete: release,
        error: release,
        unsubscribe: release,
      }),
    );
  }
}

/** A registry query for one candidate: its model, under the request's step. */
interface Query {
  model: string;
  step: string;
}

function modelOf(candidate: RouteCandidate): string {
  return candidate.model ?? candidate.name;
}

function asTier(model: string): Tier | undefined {
  return (TIERS as readonly string[]).includes(model) ? (model as Tier) : undefined;
}

const tierSchema = s.oneOf(TIERS as unknown as [Tier, ...Tier[]]);
const candidateSchema = s.union([
  s.string().min(1),
  s.strictObject({
    name: s.string().min(1),
    model: s.string().min(1).optional(),
    transport: functionSchema<Transport>('a transport').optional(),
  }),
]);

const configSchema = s.strictObject({
  tiers: s
    .strictObject(Object.fromEntries(TIERS.map((t) => [t, s.array(candidateSchema).optional()])) as Record<Tier, s.Optional<s.Infer<typeof candidateSchema>[]>>)
    .refine((tiers) => Object.values(tiers).some((list) => (list?.length ?? 0) > 0), 'give at least one tier with candidates'),
  tier: s.union([tierSchema, functionSchema<(request: LlmRequest) => Tier | undefined>('a function (request) => tier')]).optional(),
  qualityFloor: s.union([tierSchema, functionSchema<(request: LlmRequest) => Tier | undefined>('a function (request) => tier')]).optional(),
  registry: latencySourceSchema<LatencySource>().optional(),
  percentile: s.number().gt(0).max(100).optional(),
  step: stepOptionRemoved,
  minSamples: s.number().int().nonnegative().optional(),
  explore: s.number().min(0).max(1).optional(),
  random: functionSchema<() => number>('a function returning a number in [0, 1)').optional(),
  onDecision: functionSchema<(decision: RouteDecision) => void>('a function (decision) => void').optional(),
});
