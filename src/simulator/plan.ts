import type { FinishReason, LlmUsage } from '../core/events.js';
import { RxllmError } from '../core/errors.js';
import type { LlmRequest } from '../core/request.js';
import { composeAnswer, type ChoiceAnswer } from './answer.js';
import { plainSampler, tailedSampler } from './latency.js';
import { createRng, hashHex, type Rng } from './prng.js';
import {
  applyOverride,
  parseProfileOverride,
  parseSimulatorProfiles,
  ProfileBook,
  type ProfileOverride,
  type SimulatorFault,
  type SimulatorProfile,
  type SimulatorProfiles,
} from './profiles.js';
import { countTokens, tokenize } from './tokenize.js';

/** One piece of output, as one chunk of a stream carries it. */
export type PlanDelta =
  | { type: 'text'; choice: number; text: string }
  | { type: 'tool-call'; choice: number; callIndex: number; id?: string; name?: string; arguments: string }
  | { type: 'finish'; choice: number; reason: FinishReason };

/** What is sent at one moment, `atMs` after the request arrived. */
export interface PlanStep {
  atMs: number;
  deltas: PlanDelta[];
}

/** One choice of the answer, whole (what a non-streaming response carries). */
export interface PlannedChoice {
  index: number;
  /** The text, or null for a tool call. */
  content: string | null;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: FinishReason;
  /**
   * Where each streamed token ends: in `content`, or in the tool call's `arguments`
   * (a tool call streams its id and name first, as one more token).
   */
  tokenEnds: number[];
}

/**
 * How a planned response ends:
 * - `complete`: everything was sent (at `atMs`, the last step);
 * - `status`: an HTTP error response, sent at `atMs` instead of an answer;
 * - `disconnect`: the connection drops at `atMs`, after the steps (cut) were sent;
 * - `stall`: nothing more is ever sent (not even headers when `beforeHeaders`).
 */
export type PlanEnding =
  | { type: 'complete'; atMs: number }
  | { type: 'status'; atMs: number; status: number; headers: Record<string, string>; body: string }
  | { type: 'disconnect'; atMs: number }
  | { type: 'stall'; beforeHeaders: boolean };

/** Everything about one simulated chat response, decided when the request arrives. */
export interface ChatPlan {
  /** `chatcmpl-…`, deterministic. */
  id: string;
  /** Sent as `x-request-id`. */
  requestId: string;
  /** The model name as requested. */
  model: string;
  /** 0 for the first request the simulator planned. */
  requestIndex: number;
  /**
   * Which attempt at this content the plan is: 0 unless identical requests (same model and
   * content) came before it that have not yet been answered in full (in flight, failed or cut).
   * The latency, tail and faults are drawn from the seed, the content and this number.
   */
  attempt: number;
  stream: boolean;
  includeUsage: boolean;
  choices: PlannedChoice[];
  /**
   * When each stream step is sent, in ms after the request arrived; cut short when the
   * response ends in a disconnect or stall. {@link planStep} gives a step's deltas (built on
   * demand, so a plan holds only its text and numbers while it plays).
   */
  stepTimes: number[];
  usage: LlmUsage;
  ending: PlanEnding;
}

/** A simulated embeddings response: when it ends, and how. */
export interface EmbeddingsPlan {
  requestId: string;
  model: string;
  requestIndex: number;
  ending: PlanEnding;
}

/** Options for {@link Simulator}. */
export interface SimulatorConfig {
  /** Profiles merged over the built-in ones (see `defaultSimulatorProfiles`). */
  profiles?: SimulatorProfiles;
  /** Seeds every random choice: the same seed and request give the same text and delays, whatever the request order. @defaultValue 1 */
  seed?: number;
}

/**
 * The one core behind the simulated transport and the simulator server: from a
 * request, it decides (deterministically, from the seed and the request's content;
 * only ids and `firstRequests` faults follow the request order) the whole response: fault, time to first
 * token, the time of every token, the text or tool call, the finish reason and
 * the usage. Playing the plan is left to the two forms.
 *
 * Determinism: answers depend on the seed and the request's content only (not on
 * `stream`, `stream_options`, `rxllm_sim`, `max_tokens`, `stop`, `n`, `user`, or a
 * deployment suffix `@region` of the model name). Delays, tails and probabilistic faults
 * depend on the seed, the full model name, the same content and the plan's `attempt`, not
 * on the request order: the same request asked in a sequential run and in a parallel one
 * takes the same time, so runs of different shapes compare fairly. `attempt` counts the
 * identical requests since the last one answered in full ({@link Simulator.answered}), so a
 * hedge sent while its original is in flight, or a retry after a fault, draws anew, and an
 * identical request asked later (after an answer) draws as the first one did. A spread over
 * many different prompts samples the profile's distributions. `firstRequests` faults count
 * requests per model name.
 */
export class Simulator {
  readonly profiles: ProfileBook;
  readonly seed: number;
  private requests = 0;
  private readonly perModel = new Map<string, number>();
  /** Per latency key: the series of attempts since the last full answer (deleted on one). */
  private readonly series = new Map<string, Series>();
  /** The series each plan was drawn in, so only a plan of the current series ends it. */
  private readonly seriesOf = new WeakMap<ChatPlan, { key: string; series: Series }>();

  constructor(config: SimulatorConfig = {}) {
    const seed = config.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RxllmError('invalid-config', `The simulator seed must be an integer, got ${String(seed)}.`);
    this.seed = seed;
    this.profiles = new ProfileBook(parseSimulatorProfiles(config.profiles ?? {}));
  }

  /** How many requests have been planned so far. */
  get requestCount(): number {
    return this.requests;
  }

  /**
   * Plans the response to a validated chat request. Takes the request's place in
   * the order (so call it once per request, when the request arrives).
   */
  planChat(request: LlmRequest, options: { stream: boolean; includeUsage: boolean; override?: ProfileOverride }): ChatPlan {
    const { index, countForModel } = this.take(request.model);
    const profile = applyOverride(this.profiles.get(request.model), options.override);
    const contentKey = answerKey(request);
    // The full model name: two deployments of one model are two servers, with their own delays.
    const latencyKey = `${request.model}\n${contentKey}`;
    const series = this.series.get(latencyKey) ?? { attempts: 0 };
    const attempt = series.attempts++;
    if (attempt === 0) {
      // Series that never end (aborted, never answered) must not grow the map without bound.
      if (this.series.size >= MAX_SERIES) this.series.delete(this.series.keys().next().value!);
      this.series.set(latencyKey, series);
    }
    const latency = createRng(this.seed, 'latency', latencyKey, attempt);
    const ttft = Math.max(0, Math.round(tailedSampler(profile.ttftMs, profile.tail)(latency)));
    const fault = pickFault(profile.faults, countForModel, latency);

    const id = `chatcmpl-sim${hashHex(this.seed, index, contentKey)}${hashHex(contentKey)}`;
    const requestId = `req_sim_${hashHex(this.seed, 'request', index)}`;
    const cap = request.max_completion_tokens ?? request.max_tokens ?? Infinity;
    const lengthSampler = plainSampler(profile.outputTokens);
    const lengthSet = options.override?.profile.outputTokens !== undefined;
    const answer = (sub: LlmRequest, choice: number): ChoiceAnswer => {
      const rng = createRng(this.seed, 'answer', answerKey(sub), choice);
      return composeAnswer(sub, rng, Math.max(1, Math.round(lengthSampler(rng))), { lengthSet });
    };
    const choices = Array.from({ length: request.n ?? 1 }, (_, choice) => planChoice(request, choice, answer, cap));

    const stepCount = Math.max(...choices.map(stepsOf));
    const times = tokenTimes(ttft, stepCount, profile, latency);
    const completionTokens = choices.reduce((sum, choice) => sum + stepsOf(choice), 0);
    const promptTokens = promptTokenCount(request);
    const usage: LlmUsage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };

    const base = { id, requestId, model: request.model, requestIndex: index, attempt, stream: options.stream, includeUsage: options.includeUsage, choices, usage };
    const plan = withEnding(base, times, ttft, fault, request.model, requestId);
    this.seriesOf.set(plan, { key: latencyKey, series });
    return plan;
  }

  /**
   * Tells the simulator a planned chat answer was delivered in full (its `complete` ending
   * was played): the next identical request starts a new series of attempts, at attempt 0,
   * and draws what the first attempt drew. Not calling it only makes every later identical
   * request a new attempt.
   */
  answered(plan: ChatPlan): void {
    const entry = this.seriesOf.get(plan);
    if (entry && this.series.get(entry.key) === entry.series) this.series.delete(entry.key);
  }

  /** Plans an embeddings response: its latency is the model's time to first token, and faults apply. */
  planEmbeddings(model: string, override?: ProfileOverride): EmbeddingsPlan {
    const { index, countForModel } = this.take(model);
    const known = this.profiles.has(model) ? this.profiles.get(model) : this.profiles.get('text-embedding-3-small');
    const profile = applyOverride(known, override);
    const latency = createRng(this.seed, 'latency', index);
    const delay = Math.max(0, Math.round(tailedSampler(profile.ttftMs, profile.tail)(latency)));
    const fault = pickFault(profile.faults, countForModel, latency);
    const requestId = `req_sim_${hashHex(this.seed, 'request', index)}`;
    const ending: PlanEnding = !fault
      ? { type: 'complete', atMs: delay }
      : fault.type === 'status'
        ? statusEnding(fault, model, requestId)
        : fault.type === 'disconnect'
          ? { type: 'disconnect', atMs: delay }
          : { type: 'stall', beforeHeaders: true };
    return { requestId, model, requestIndex: index, ending };
  }

  private take(model: string): { index: number; countForModel: number } {
    const countForModel = this.perModel.get(model) ?? 0;
    this.perModel.set(model, countForModel + 1);
    return { index: this.requests++, countForModel };
  }
}

/** Attempts at one content since its last full answer. */
interface Series {
  attempts: number;
}

const MAX_SERIES = 10_000;

function withEnding(
  base: Omit<ChatPlan, 'stepTimes' | 'ending'>,
  times: number[],
  ttft: number,
  fault: SimulatorFault | undefined,
  model: string,
  requestId: string,
): ChatPlan {
  const lastAt = times[times.length - 1] ?? ttft;
  if (!fault) return { ...base, stepTimes: times, ending: { type: 'complete', atMs: lastAt } };
  switch (fault.type) {
    case 'status':
      return { ...base, stepTimes: [], ending: statusEnding(fault, model, requestId) };
    case 'disconnect': {
      const cut = Math.min(fault.afterTokens, times.length);
      return { ...base, stepTimes: times.slice(0, cut), ending: { type: 'disconnect', atMs: times[cut] ?? lastAt } };
    }
    case 'stall': {
      const cut = fault.afterTokens === undefined ? 0 : Math.min(fault.afterTokens, times.length);
      return { ...base, stepTimes: times.slice(0, cut), ending: { type: 'stall', beforeHeaders: fault.afterTokens === undefined } };
    }
  }
}

/**
 * The override a request asks for: the `x-rxllm-sim` header (server only), then
 * the request's `rxllm_sim` field, whose keys win.
 *
 * @throws {@link RxllmError} `invalid-request` for a malformed override.
 */
export function requestOverride(request: LlmRequest, header?: string): ProfileOverride | undefined {
  const field = (request as Record<string, unknown>)['rxllm_sim'];
  if (field !== undefined && typeof field !== 'string') {
    throw new RxllmError('invalid-request', `rxllm_sim must be a string such as "ttft=300,tokens=50", got ${typeof field}.`, { path: 'rxllm_sim' });
  }
  const text = [header, field].filter((part): part is string => typeof part === 'string' && part.trim() !== '').join(',');
  return text ? parseProfileOverride(text) : undefined;
}

/**
 * The deltas sent at step `index` of a plan's stream: one token per choice that is still
 * going, and a choice's finish with its last token (unless the response is cut).
 */
export function planStep(plan: ChatPlan, index: number): PlanStep {
  const deltas: PlanDelta[] = [];
  for (const choice of plan.choices) {
    const steps = stepsOf(choice);
    if (index >= steps) continue;
    const { tokenEnds } = choice;
    const call = choice.toolCalls[0];
    if (choice.content !== null) {
      deltas.push({ type: 'text', choice: choice.index, text: choice.content.slice(tokenEnds[index - 1] ?? 0, tokenEnds[index]) });
    } else if (call && index === 0) {
      deltas.push({ type: 'tool-call', choice: choice.index, callIndex: 0, id: call.id, name: call.name, arguments: '' });
    } else if (call) {
      deltas.push({ type: 'tool-call', choice: choice.index, callIndex: 0, arguments: call.arguments.slice(tokenEnds[index - 2] ?? 0, tokenEnds[index - 1]) });
    }
    if (index === steps - 1 && plan.ending.type === 'complete') deltas.push({ type: 'finish', choice: choice.index, reason: choice.finishReason });
  }
  return { atMs: plan.stepTimes[index]!, deltas };
}

/** How many tokens a choice streams. */
function stepsOf(choice: PlannedChoice): number {
  return choice.content === null ? choice.tokenEnds.length + 1 : choice.tokenEnds.length;
}

type Answerer = (request: LlmRequest, choice: number) => ChoiceAnswer;

function planChoice(request: LlmRequest, index: number, answerTo: Answerer, cap: number): PlannedChoice {
  const packed = packedPrompts(request);
  const answer: ChoiceAnswer = packed
    ? { type: 'text', text: JSON.stringify({ answers: packed.map((sub) => textAlone(sub, index, answerTo, Math.floor(cap / packed.length))) }) }
    : answerTo(request, index);
  if (answer.type === 'tool-call') {
    const pieces = tokenize(answer.arguments);
    const kept = pieces.slice(0, Math.max(0, cap - 1));
    const finishReason = kept.length < pieces.length ? 'length' : 'tool_calls';
    const args = kept.join('');
    return { index, content: null, toolCalls: [{ id: answer.id, name: answer.name, arguments: args }], finishReason, tokenEnds: ends(kept) };
  }
  // An answer always has at least one token, as a real model's does.
  const text = packed ? answer.text : cutAtStop(answer.text, request.stop) || 'OK';
  const pieces = tokenize(text);
  const kept = pieces.slice(0, cap);
  const finishReason = kept.length < pieces.length ? 'length' : 'stop';
  return { index, content: kept.join(''), toolCalls: [], finishReason, tokenEnds: ends(kept) };
}

/**
 * What `batch()` packs: a user message "Answer each of the N prompts below on its own …" with
 * `<prompt i>` sections, and a JSON schema asking for `{ "answers": [N strings] }`. Returns the
 * request each prompt would have been alone (the packed request with that prompt as its last
 * message, without the format), or undefined for any other request.
 */
function packedPrompts(request: LlmRequest): LlmRequest[] | undefined {
  const last = request.messages.at(-1);
  const format = request.response_format;
  if (last?.role !== 'user' || typeof last.content !== 'string' || format?.type !== 'json_schema') return undefined;
  const schema = format.json_schema.schema as { properties?: { answers?: { type?: unknown; items?: { type?: unknown } } } } | undefined;
  if (schema?.properties?.answers?.type !== 'array' || schema.properties.answers.items?.type !== 'string') return undefined;
  const header = /^Answer each of the (\d+) prompts below on its own\b/.exec(last.content);
  if (!header) return undefined;
  const count = Number(header[1]);
  const prompts: string[] = [];
  for (let i = 1; i <= count; i++) {
    const section = new RegExp(String.raw`<prompt ${i}>\n([\s\S]*?)\n</prompt ${i}>`).exec(last.content);
    if (!section) return undefined;
    prompts.push(section[1]!);
  }
  const { response_format: _format, max_tokens: _max, max_completion_tokens: _maxCompletion, ...rest } = request;
  return prompts.map((prompt) => ({ ...rest, messages: [...request.messages.slice(0, -1), { role: 'user', content: prompt }] }));
}

/** A packed prompt's answer: the text the prompt alone would get, cut at its share of the packed request's token cap. */
function textAlone(request: LlmRequest, choice: number, answerTo: Answerer, cap: number): string {
  const answer = answerTo(request, choice);
  const text = answer.type === 'text' ? cutAtStop(answer.text, request.stop) || 'OK' : answer.arguments;
  return tokenize(text).slice(0, cap).join('');
}

function ends(pieces: readonly string[]): number[] {
  let at = 0;
  return pieces.map((piece) => (at += piece.length));
}

function cutAtStop(text: string, stop: LlmRequest['stop']): string {
  const stops = (typeof stop === 'string' ? [stop] : (stop ?? [])).filter((s) => s.length > 0);
  const at = Math.min(...stops.map((s) => text.indexOf(s)).filter((i) => i !== -1));
  return Number.isFinite(at) && at > 0 ? text.slice(0, at) : text;
}

/** When each step is sent: the first at the time to first token, then at the profile's speed, with jitter. */
function tokenTimes(ttft: number, count: number, profile: SimulatorProfile, rng: Rng): number[] {
  const interval = 1000 / profile.tokensPerSecond;
  const sigma = profile.jitter;
  const times: number[] = [];
  let at = ttft;
  for (let i = 0; i < count; i++) {
    // Rounding the running total (not each gap) keeps the average speed exact in whole milliseconds.
    times.push(Math.round(at));
    at += sigma === 0 ? interval : interval * Math.exp(sigma * rng.normal() - (sigma * sigma) / 2);
  }
  return times;
}

function pickFault(faults: readonly SimulatorFault[], countForModel: number, rng: Rng): SimulatorFault | undefined {
  // One draw per fault whatever happens, so the random sequence after this does not depend on which fired.
  const draws = faults.map(() => rng.next());
  return faults.find(
    (fault, i) =>
      (fault.firstRequests !== undefined && countForModel < fault.firstRequests) ||
      (fault.probability !== undefined && draws[i]! < fault.probability),
  );
}

function statusEnding(fault: Extract<SimulatorFault, { type: 'status' }>, model: string, requestId: string): PlanEnding {
  const retryAfterMs = fault.retryAfterMs ?? (fault.status === 429 ? 1000 : undefined);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': requestId };
  if (retryAfterMs !== undefined) {
    headers['retry-after'] = String(Math.ceil(retryAfterMs / 1000));
    headers['retry-after-ms'] = String(retryAfterMs);
  }
  const { type, code, message } = errorText(fault.status, model, retryAfterMs);
  const body = JSON.stringify({ error: { message: fault.message ?? message, type, param: null, code } });
  return { type: 'status', atMs: fault.afterMs ?? 0, status: fault.status, headers, body };
}

function errorText(status: number, model: string, retryAfterMs: number | undefined): { type: string; code: string | null; message: string } {
  const suffix = ' (simulated by rxllm)';
  if (status === 429) {
    const wait = retryAfterMs === undefined ? 'later' : `in ${(retryAfterMs / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
    return { type: 'requests', code: 'rate_limit_exceeded', message: `Rate limit reached for ${model}. Please try again ${wait}.${suffix}` };
  }
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key', message: `Incorrect API key provided.${suffix}` };
  if (status === 503) return { type: 'server_error', code: 'overloaded', message: `The engine is currently overloaded, please try again later.${suffix}` };
  if (status >= 500) return { type: 'server_error', code: 'server_error', message: `The server had an error while processing your request.${suffix}` };
  return { type: 'invalid_request_error', code: null, message: `The request failed with status ${status}.${suffix}` };
}

/**
 * The request's content, as the answer depends on it: canonical JSON without the fields that
 * only change how the answer is delivered or cut (so a capped answer is a prefix of the full one).
 */
function answerKey(request: LlmRequest): string {
  const content: Record<string, unknown> = { ...request, model: request.model.replace(/@.*$/, '') };
  for (const key of DELIVERY_FIELDS) delete content[key];
  return canonicalJson(content);
}

const DELIVERY_FIELDS = ['stream', 'stream_options', 'rxllm_sim', 'max_tokens', 'max_completion_tokens', 'stop', 'n', 'user'];

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function promptTokenCount(request: LlmRequest): number {
  let count = 3;
  for (const message of request.messages) {
    const content = (message as { content?: unknown }).content;
    count += 4 + countTokens(typeof content === 'string' ? content : content == null ? '' : JSON.stringify(content));
  }
  if (request.tools) count += countTokens(JSON.stringify(request.tools));
  if (request.response_format) count += countTokens(JSON.stringify(request.response_format));
  return count;
}
