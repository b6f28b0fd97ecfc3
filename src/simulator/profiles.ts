import * as s from '../internal/check.js';
import { RxllmError } from '../core/errors.js';
import type { SimulatorDistribution, SimulatorTail } from './latency.js';

/** When a fault fires: on each of the first `firstRequests` requests to the model, and/or with `probability`. */
export interface FaultTrigger {
  /** Chance per request, 0–1. */
  probability?: number;
  /** The first N requests for this model name always get the fault (counted per simulator). */
  firstRequests?: number;
}

/**
 * A failure the simulator injects.
 *
 * - `status`: an HTTP error (429, 500, 503, ...) in OpenAI's error shape, sent
 *   `afterMs` after the request (default 0), with `retry-after` / `retry-after-ms`
 *   headers when `retryAfterMs` is set.
 * - `disconnect`: the connection drops after `afterTokens` tokens (a `connection-lost` error).
 * - `stall`: nothing more is sent after `afterTokens` tokens, or, without
 *   `afterTokens`, not even the response headers; the request hangs until the
 *   client gives up.
 */
export type SimulatorFault =
  | ({
      /** An HTTP error response. */
      type: 'status';
      /** Its status code (429, 500, 503, …). */
      status: number;
      /** Sent as `retry-after-ms` and `retry-after` headers when set. */
      retryAfterMs?: number;
      /** How long after the request the error is sent, in ms. @defaultValue 0 */
      afterMs?: number;
      /** The error body's message. @defaultValue a message for the status */
      message?: string;
    } & FaultTrigger)
  | ({
      /** The connection drops mid-answer. */
      type: 'disconnect';
      /** After this many tokens. */
      afterTokens: number;
    } & FaultTrigger)
  | ({
      /** Nothing more is sent; the request hangs until the client gives up. */
      type: 'stall';
      /** After this many tokens; absent: before the response headers. */
      afterTokens?: number;
    } & FaultTrigger);

/** How one model (or one deployment of a model) behaves. */
export interface SimulatorProfile {
  /** Time to first token, in ms: fixed, or lognormal from `{ median, p95 }` (the tail included). */
  ttftMs: SimulatorDistribution;
  /** Output speed after the first token, in tokens per second. */
  tokensPerSecond: number;
  /**
   * Spread of the time between tokens: the sigma of a lognormal factor whose mean is 1
   * (0 = perfectly regular).
   */
  jitter: number;
  /** Length of free-form answers, in tokens (task answers such as a label have their natural length). */
  outputTokens: SimulatorDistribution;
  /** Occasional very slow first tokens; `median` and `p95` of `ttftMs` already account for it. */
  tail?: SimulatorTail;
  /** Failures to inject, tried in order; the first that fires wins. */
  faults: SimulatorFault[];
}

/**
 * Profiles by model name. A profile may be partial: missing fields come from the
 * built-in profile of the same name, else from the fallback profile `"*"`, which
 * is also what unknown model names get.
 */
export type SimulatorProfiles = Record<string, Partial<SimulatorProfile>>;

/** The profile name unknown models resolve to. */
export const FALLBACK_PROFILE = '*';

/**
 * The built-in profiles, shaped on published figures for OpenAI's tiers (a fast
 * small model around 500 ms to first token, a balanced one around 700 ms, a
 * large one around 1,300 ms), plus two deployments of the small model with
 * different latency for routing and hedging demos. They are plausible shapes,
 * not measurements of any live service.
 *
 * | name | TTFT median / p95 | tokens/s | tail |
 * |---|---|---|---|
 * | `gpt-4o-mini` | 500 / 900 ms | 85 | 1 % × 3 |
 * | `gpt-4o` | 700 / 1,300 ms | 70 | 1 % × 3 |
 * | `gpt-4.1` (the large tier) | 1,300 / 2,400 ms | 55 | 1 % × 3 |
 * | `gpt-4o-mini@eastus` | 400 / 650 ms | 90 | 0.5 % × 3 |
 * | `gpt-4o-mini@westeurope` | 600 / 1,800 ms | 80 | 4 % × 4 (noisy: hedging pays off) |
 * | `text-embedding-3-small` | 60 / 150 ms | – | none |
 * | `text-embedding-3-large` | 90 / 220 ms | – | none |
 * | `*` (any other name) | 600 / 1,100 ms | 70 | 1 % × 3 |
 *
 * All chat profiles have `jitter` 0.3, free-form answers of 120–200 tokens (median)
 * and no faults. The object is frozen; pass `profiles` to a simulator to change any of it.
 *
 * @example
 * ```ts
 * // A slower, flakier gpt-4o: 2 % of requests get a 429, the first request a 503.
 * const llm = simulatedTransport({
 *   profiles: {
 *     'gpt-4o': {
 *       ttftMs: { median: 900, p95: 2000 },
 *       faults: [
 *         { type: 'status', status: 503, firstRequests: 1 },
 *         { type: 'status', status: 429, retryAfterMs: 1000, probability: 0.02 },
 *       ],
 *     },
 *   },
 * });
 * ```
 */
export const defaultSimulatorProfiles: Readonly<Record<string, Readonly<SimulatorProfile>>> = deepFreeze({
  'gpt-4o-mini': profile({ median: 500, p95: 900 }, 85, { median: 120, p95: 350 }, { probability: 0.01, multiplier: 3 }),
  'gpt-4o': profile({ median: 700, p95: 1300 }, 70, { median: 150, p95: 400 }, { probability: 0.01, multiplier: 3 }),
  'gpt-4.1': profile({ median: 1300, p95: 2400 }, 55, { median: 200, p95: 500 }, { probability: 0.01, multiplier: 3 }),
  'gpt-4o-mini@eastus': profile({ median: 400, p95: 650 }, 90, { median: 120, p95: 350 }, { probability: 0.005, multiplier: 3 }),
  'gpt-4o-mini@westeurope': profile({ median: 600, p95: 1800 }, 80, { median: 120, p95: 350 }, { probability: 0.04, multiplier: 4 }),
  'text-embedding-3-small': profile({ median: 60, p95: 150 }, 1000, 1),
  'text-embedding-3-large': profile({ median: 90, p95: 220 }, 1000, 1),
  [FALLBACK_PROFILE]: profile({ median: 600, p95: 1100 }, 70, { median: 120, p95: 350 }, { probability: 0.01, multiplier: 3 }),
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function profile(ttftMs: SimulatorDistribution, tokensPerSecond: number, outputTokens: SimulatorDistribution, tail?: SimulatorTail): SimulatorProfile {
  return { ttftMs, tokensPerSecond, jitter: 0.3, outputTokens, ...(tail ? { tail } : {}), faults: [] };
}

const distributionSchema = s.union([
  s.number().nonnegative(),
  s
    .strictObject({ median: s.number().positive(), p95: s.number().positive() })
    .refine((d) => d.p95 >= d.median, { message: 'p95 must be ≥ median' }),
]);

const trigger = {
  probability: s.number().min(0).max(1).optional(),
  firstRequests: s.number().int().nonnegative().optional(),
};

const faultSchema = s
  .discriminatedUnion('type', [
    s.strictObject({
      type: s.literal('status'),
      status: s.number().int().min(400).max(599),
      retryAfterMs: s.number().nonnegative().optional(),
      afterMs: s.number().nonnegative().optional(),
      message: s.string().optional(),
      ...trigger,
    }),
    s.strictObject({ type: s.literal('disconnect'), afterTokens: s.number().int().nonnegative(), ...trigger }),
    s.strictObject({ type: s.literal('stall'), afterTokens: s.number().int().nonnegative().optional(), ...trigger }),
  ])
  .refine((fault) => fault.probability !== undefined || fault.firstRequests !== undefined, {
    message: 'a fault needs `probability` and/or `firstRequests`, or it never fires',
  });

const profileSchema = s.strictObject({
  ttftMs: distributionSchema.optional(),
  tokensPerSecond: s.number().positive().optional(),
  jitter: s.number().min(0).max(2).optional(),
  outputTokens: distributionSchema.optional(),
  tail: s.strictObject({ probability: s.number().min(0).max(1), multiplier: s.number().min(1) }).optional(),
  faults: s.array(faultSchema).optional(),
});

const profilesSchema = s.record(s.string().min(1), profileSchema);

/**
 * Validates simulator profiles (from a JSON file, say) and returns them.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config`, listing every problem with its path.
 * @example
 * ```ts
 * const profiles = parseSimulatorProfiles(JSON.parse(await readFile('profiles.json', 'utf8')));
 * ```
 */
export function parseSimulatorProfiles(input: unknown): SimulatorProfiles {
  const parsed = profilesSchema.safeParse(input);
  if (!parsed.success) {
    throw new RxllmError('invalid-config', `Invalid simulator profiles:\n${s.prettify(parsed.error.issues)}`, {
      cause: parsed.error,
      path: parsed.error.issues[0]?.path.map(String).join('.') ?? '',
    });
  }
  return parsed.data as SimulatorProfiles;
}

/** The complete profiles a simulator uses: the built-ins with the given ones merged over them. */
export class ProfileBook {
  private readonly profiles = new Map<string, SimulatorProfile>();
  private readonly fallback: SimulatorProfile;

  constructor(given: SimulatorProfiles = {}) {
    const fallbackGiven = given[FALLBACK_PROFILE];
    this.fallback = { ...defaultSimulatorProfiles[FALLBACK_PROFILE]!, ...fallbackGiven };
    for (const [name, value] of Object.entries(defaultSimulatorProfiles)) {
      if (name !== FALLBACK_PROFILE) this.profiles.set(name, value);
    }
    for (const [name, value] of Object.entries(given)) {
      if (name === FALLBACK_PROFILE) continue;
      this.profiles.set(name, { ...(defaultSimulatorProfiles[name] ?? this.fallback), ...value });
    }
  }

  /** The profile for a model name; unknown names get the fallback profile. */
  get(model: string): SimulatorProfile {
    return this.profiles.get(model) ?? this.fallback;
  }

  /** True when the name has its own profile. */
  has(model: string): boolean {
    return this.profiles.has(model);
  }

  /** The model names with their own profile (for `GET /v1/models`). */
  names(): string[] {
    return [...this.profiles.keys()];
  }
}

/** A per-request change to the profile, from `x-rxllm-sim` or the request's `rxllm_sim` field. */
export interface ProfileOverride {
  profile: Partial<Pick<SimulatorProfile, 'ttftMs' | 'tokensPerSecond' | 'jitter' | 'outputTokens'>>;
  tailProbability?: number;
  tailMultiplier?: number;
  /** A fault forced on this request (it replaces the profile's faults). */
  fault?: SimulatorFault;
}

const OVERRIDE_KEYS = ['ttft', 'ttft_p95', 'tps', 'jitter', 'tokens', 'tail_p', 'tail_x', 'fault', 'fault_after', 'retry_after'];

/**
 * Parses a per-request override such as `ttft=300,tokens=50,tail_p=0.02`.
 *
 * | key | meaning |
 * |---|---|
 * | `ttft` | time to first token, ms (fixed, or the median when `ttft_p95` is given) |
 * | `ttft_p95` | p95 of the time to first token, ms (needs `ttft`) |
 * | `tps` | tokens per second |
 * | `jitter` | spread of the time between tokens (0 = regular) |
 * | `tokens` | length of a free-form answer, in tokens |
 * | `tail_p`, `tail_x` | tail probability and multiplier (`tail_p=0` turns the tail off) |
 * | `fault` | force a fault: an HTTP status (`429`, `500`, `503`, ...), `disconnect` or `stall` |
 * | `fault_after` | tokens sent before a `disconnect` or `stall` (a stall without it hangs before the headers) |
 * | `retry_after` | with a status fault: the wait to ask for, ms |
 *
 * Fields not named keep the profile's values.
 *
 * @throws {@link RxllmError} `invalid-request` naming the bad key or value.
 */
export function parseProfileOverride(text: string): ProfileOverride {
  const values = new Map<string, string>();
  for (const part of text.split(/[,;]/)) {
    const item = part.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    const key = (eq === -1 ? item : item.slice(0, eq)).trim().toLowerCase();
    const value = eq === -1 ? '' : item.slice(eq + 1).trim();
    if (!OVERRIDE_KEYS.includes(key)) {
      throw overrideError(`unknown key "${key}"; known keys: ${OVERRIDE_KEYS.join(', ')}`);
    }
    values.set(key, value);
  }
  const num = (key: string, min: number, max = Infinity, integer = false): number | undefined => {
    const raw = values.get(key);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw overrideError(`"${key}" must be ${integer ? 'an integer' : 'a number'} ≥ ${min}${max === Infinity ? '' : ` and ≤ ${max}`}, got "${raw}"`);
    }
    return value;
  };

  const out: ProfileOverride['profile'] = {};
  const ttft = num('ttft', 0);
  const ttftP95 = num('ttft_p95', 0);
  if (ttftP95 !== undefined) {
    if (ttft === undefined || ttft <= 0 || ttftP95 < ttft) throw overrideError('"ttft_p95" needs "ttft" > 0 and must be ≥ it');
    out.ttftMs = { median: ttft, p95: ttftP95 };
  } else if (ttft !== undefined) out.ttftMs = ttft;
  const tps = num('tps', Number.MIN_VALUE);
  if (tps !== undefined) out.tokensPerSecond = tps;
  const jitter = num('jitter', 0, 2);
  if (jitter !== undefined) out.jitter = jitter;
  const tokens = num('tokens', 1, Infinity, true);
  if (tokens !== undefined) out.outputTokens = tokens;
  const result: ProfileOverride = { profile: out };
  const tailP = num('tail_p', 0, 1);
  if (tailP !== undefined) result.tailProbability = tailP;
  const tailX = num('tail_x', 1);
  if (tailX !== undefined) result.tailMultiplier = tailX;
  const fault = values.get('fault');
  const after = num('fault_after', 0, Infinity, true);
  const retryAfter = num('retry_after', 0);
  if (fault !== undefined) {
    if (fault === 'disconnect') result.fault = { type: 'disconnect', afterTokens: after ?? 0, probability: 1 };
    else if (fault === 'stall') result.fault = { type: 'stall', ...(after === undefined ? {} : { afterTokens: after }), probability: 1 };
    else {
      const status = Number(fault);
      if (!Number.isInteger(status) || status < 400 || status > 599) {
        throw overrideError(`"fault" must be an HTTP status 400–599, "disconnect" or "stall", got "${fault}"`);
      }
      result.fault = { type: 'status', status, ...(retryAfter === undefined ? {} : { retryAfterMs: retryAfter }), probability: 1 };
    }
  } else if (after !== undefined || retryAfter !== undefined) {
    throw overrideError('"fault_after" and "retry_after" need "fault"');
  }
  return result;
}

/** The profile with an override's fields applied. */
export function applyOverride(base: SimulatorProfile, override: ProfileOverride | undefined): SimulatorProfile {
  if (!override) return base;
  const merged: SimulatorProfile = { ...base, ...override.profile };
  if (override.tailProbability !== undefined || override.tailMultiplier !== undefined) {
    merged.tail = {
      probability: override.tailProbability ?? base.tail?.probability ?? 0,
      multiplier: override.tailMultiplier ?? base.tail?.multiplier ?? 3,
    };
  }
  if (override.fault) merged.faults = [override.fault];
  return merged;
}

function overrideError(detail: string): RxllmError {
  return new RxllmError('invalid-request', `Invalid simulator override (x-rxllm-sim / rxllm_sim): ${detail}.`, { path: 'rxllm_sim' });
}
