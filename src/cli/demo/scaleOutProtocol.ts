// What the scale-out section (scaleOut.ts) and its instance processes (scaleOutInstance.ts) say to each other over
// the fork IPC channel, and the one question both build. Internal to the demo.
import type { LlmRequest } from '../../core/request.js';
import type { RedisInFlightStats } from '../../redis/redisInFlight.js';

/**
 * The first message to an instance. The Redis URL goes over the IPC channel, never on a command line or in
 * the environment of the child, where `ps` would show a password in it.
 */
export interface StartInstance {
  type: 'start';
  redisUrl: string;
  /** The simulator's `/v1`. */
  baseURL: string;
  /** Start of every key the instances write (unique per demo run; the keys expire). */
  prefix: string;
  model: string;
  /** The simulated profile (`rxllm_sim`) of every request. */
  sim: string;
}

/** Ask one request through the instance's `dedupe({ registry: redisInFlight(...) })`. */
export interface AskInstance {
  type: 'ask';
  request: LlmRequest;
}

export type ToInstance = StartInstance | AskInstance | { type: 'stop' };

export type FromInstance =
  /** Listening on 127.0.0.1:`port` (GET /answers/:id), and Redis answered a PING. */
  | { type: 'ready'; port: number }
  /** It could not start; `unreachable` when Redis did not answer. */
  | { type: 'failed'; reason: 'no-ioredis' | 'unreachable' | 'other'; message: string }
  | { type: 'answer'; text: string; stats: RedisInFlightStats }
  | { type: 'answer-failed'; message: string }
  /** Redis failed under a running request (the request went on in-process; the first of an outage). */
  | { type: 'redis-error'; message: string };

/** The path of a resumable answer: `GET /answers/<id>`. */
export const ANSWER_PATH = '/answers/';

/** A request of the section: one user message, on the section's simulated profile (`rxllm_sim`). */
export function fleetRequest(content: string, model: string, sim: string): LlmRequest {
  return { model, temperature: 0, messages: [{ role: 'user', content }], rxllm_sim: sim } as LlmRequest;
}

/**
 * The question behind the resumable answer `id`: every instance builds the same one from the id (the simulator
 * answers the same request with the same text, so the demo can ask it once uninterrupted to compare).
 */
export function answerRequest(id: string, model: string, sim: string): LlmRequest {
  return fleetRequest(`Explain why an answer streamed to a browser should survive a dropped connection (${id}).`, model, sim);
}
