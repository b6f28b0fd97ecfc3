import { defer, throwError } from 'rxjs';
import { z } from 'zod';
import { RxllmError } from '../core/errors.js';
import type { LlmRequest } from '../core/request.js';
import type { Middleware, Transport } from '../core/transport.js';
import type { LatencySource } from './latencySource.js';
import { functionSchema, validateConfig } from '../core/validateConfig.js';

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

/** Why a candidate was chosen. */
export type RouteReason =
  | 'only-candidate' // the tier has one
  | 'fastest' // lowest observed TTFT at the chosen percentile
  | 'exploring' // a random other candidate, so one that recovers is noticed
  | 'no-data' // a candidate without enough samples yet is tried first
  | 'not-routed'; // the request named no tier: sent as it is

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
  model: string;
  reason: RouteReason;
  /** Each candidate's observed time to first token at the chosen percentile (undefined: too few samples). */
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
  /** Observed latency, usually the `LatencyRegistry` that `measure()` (inside `route()`) fills. Without it the first candidate is used. */
  registry?: LatencySource;
  /** The percentile of time to first token compared: 50 for typical speed, 95 for the tail. @defaultValue 95 */
  percentile?: number;
  /** Read the registry under this step (and each candidate's model). @defaultValue any step */
  step?: string;
  /** Samples (in the registry's window) a candidate needs before its latency is trusted. @defaultValue 5 */
  minSamples?: number;
  /** Share of requests sent to a random other candidate of the tier. @defaultValue 0.05 */
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
 * - **Emits**, **completes** and **errors** as the chosen candidate's transport does; errors at
 *   subscribe with `invalid-request` when no tier at or above the one asked for has candidates.
 * - **Decides** at subscribe, once per subscription, and reports it to `onDecision`.
 * - **Unsubscribe** aborts the candidate's request.
 * - **Cold**: nothing is decided or sent before subscribe.
 *
 * Put `measure({ registry })` inside `route()` so latency is recorded under each candidate's model.
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
  const { tier, qualityFloor, registry, percentile = 95, step, minSamples = 5, explore = 0.05, random = Math.random, onDecision } = parsed;
  const tiers = new Map<Tier, RouteCandidate[]>(
    TIERS.filter((t) => (parsed.tiers[t]?.length ?? 0) > 0).map((t) => [
      t,
      parsed.tiers[t]!.map((c) => (typeof c === 'string' ? { name: c } : c)),
    ]),
  );

  return (next) => (request) =>
    defer(() => {
      const requested = typeof tier === 'function' ? tier(request) : (tier ?? asTier(request.model));
      const floor = typeof qualityFloor === 'function' ? qualityFloor(request) : qualityFloor;
      if (requested === undefined) {
        onDecision?.({ requested, floor, tier: undefined, candidate: request.model, model: request.model, reason: 'not-routed', ttftMs: {} });
        return next(request);
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
      const { chosen, reason, ttftMs } = choose(candidates);
      const model = chosen.model ?? chosen.name;
      onDecision?.({ requested, floor, tier: served, candidate: chosen.name, model, reason, ttftMs });
      return (chosen.transport ?? next)({ ...request, model });
    });

  function choose(candidates: RouteCandidate[]): { chosen: RouteCandidate; reason: RouteReason; ttftMs: Record<string, number | undefined> } {
    const ttftMs: Record<string, number | undefined> = {};
    if (candidates.length === 1) return { chosen: candidates[0]!, reason: 'only-candidate', ttftMs };
    if (!registry) return { chosen: candidates[0]!, reason: 'no-data', ttftMs };
    let fastest: RouteCandidate | undefined;
    let unknown: RouteCandidate | undefined;
    for (const candidate of candidates) {
      const query = { model: candidate.model ?? candidate.name, ...(step === undefined ? {} : { step }) };
      const known = registry.count(query) >= minSamples;
      const value = known ? registry.percentile({ ...query, p: percentile }) : undefined;
      ttftMs[candidate.name] = value;
      if (value === undefined) unknown ??= candidate;
      else if (fastest === undefined || value < ttftMs[fastest.name]!) fastest = candidate;
    }
    if (unknown) return { chosen: unknown, reason: 'no-data', ttftMs };
    if (random() < explore) {
      const others = candidates.filter((c) => c !== fastest);
      return { chosen: others[Math.floor(random() * others.length)]!, reason: 'exploring', ttftMs };
    }
    return { chosen: fastest!, reason: 'fastest', ttftMs };
  }
}

function asTier(model: string): Tier | undefined {
  return (TIERS as readonly string[]).includes(model) ? (model as Tier) : undefined;
}

const tierSchema = z.enum(TIERS as unknown as [Tier, ...Tier[]]);
const candidateSchema = z.union([
  z.string().min(1),
  z.strictObject({
    name: z.string().min(1),
    model: z.string().min(1).optional(),
    transport: functionSchema<Transport>('a transport').optional(),
  }),
]);

const configSchema = z.strictObject({
  tiers: z
    .strictObject(Object.fromEntries(TIERS.map((t) => [t, z.array(candidateSchema).optional()])) as Record<Tier, z.ZodOptional<z.ZodArray<typeof candidateSchema>>>)
    .refine((tiers) => Object.values(tiers).some((list) => (list?.length ?? 0) > 0), 'give at least one tier with candidates'),
  tier: z.union([tierSchema, functionSchema<(request: LlmRequest) => Tier | undefined>('a function (request) => tier')]).optional(),
  qualityFloor: z.union([tierSchema, functionSchema<(request: LlmRequest) => Tier | undefined>('a function (request) => tier')]).optional(),
  registry: z
    .custom<LatencySource>(
      (value) => typeof (value as LatencySource | undefined)?.percentile === 'function' && typeof (value as LatencySource).count === 'function',
      'expected a LatencyRegistry (or { percentile, count })',
    )
    .optional(),
  percentile: z.number().gt(0).max(100).optional(),
  step: z.string().min(1).optional(),
  minSamples: z.number().int().nonnegative().optional(),
  explore: z.number().min(0).max(1).optional(),
  random: functionSchema<() => number>('a function returning a number in [0, 1)').optional(),
  onDecision: functionSchema<(decision: RouteDecision) => void>('a function (decision) => void').optional(),
});
