import { TestScheduler } from 'rxjs/testing';
import type { FinishReason, LlmEvent } from '../core/events.js';
import { RxllmError, type RxllmErrorCode, type RxllmErrorDetails } from '../core/errors.js';

/**
 * One timed step of a {@link TokenScript}. `at` is in milliseconds after the
 * request is subscribed. A step carries one of: `text` (a text delta), `finish`
 * (the choice is done), `event` (any {@link LlmEvent}, from the `…Event`
 * factories), or `error` (the request fails: an {@link RxllmError} of that code,
 * or the given error itself).
 */
export type ScriptStep =
  | {
      /** Milliseconds after the request is subscribed. */
      at: number;
      /** A text delta. */
      text: string;
      /** The choice it belongs to (for `n > 1`). @defaultValue 0 */
      choice?: number;
    }
  | {
      /** Milliseconds after the request is subscribed. */
      at: number;
      /** The choice is done, with this reason. */
      finish: FinishReason;
      /** The choice it belongs to (for `n > 1`). @defaultValue 0 */
      choice?: number;
    }
  | {
      /** Milliseconds after the request is subscribed. */
      at: number;
      /** Any event, from the `…Event` factories. */
      event: LlmEvent;
    }
  | {
      /** Milliseconds after the request is subscribed. */
      at: number;
      /** The request fails: an {@link RxllmError} of this code, or this error itself. */
      error: RxllmErrorCode | Error;
      /** Fields of the {@link RxllmError} (`status`, `retryAfterMs`, …). */
      details?: RxllmErrorDetails;
    };

/**
 * An answer as timed steps, in time order. The answer completes at the last
 * step's time, unless that step is an error. Steps at the same time are emitted
 * in the order listed.
 *
 * @example
 * ```ts
 * const hello: TokenScript = [{ at: 300, text: 'Hel' }, { at: 310, text: 'lo' }, { at: 320, finish: 'stop' }];
 * ```
 */
export type TokenScript = readonly ScriptStep[];

/**
 * An answer as a marble diagram, with time-progression syntax, one frame = 1 ms,
 * frame 0 = subscribe: `'300ms a 9ms b 9ms (f|)'` emits `a` at 300, `b` at 310,
 * `f` and completion at 320. `#` fails the request; a diagram with no `|` or `#`
 * never ends (a stalled stream).
 */
export interface MarbleScript {
  /** The diagram: one frame = 1 ms from subscribe; letters stand for `values`, `|` completes, `#` fails. */
  marbles: string;
  /** The event each letter stands for. */
  values?: Readonly<Record<string, LlmEvent>>;
  /** What `#` raises: an {@link RxllmError} of this code, or this error. @defaultValue `'server'` */
  error?: RxllmErrorCode | Error;
}

/** A scripted answer: timed steps or a marble diagram. */
export type Script = TokenScript | MarbleScript;

/** What a script does at one moment, once compiled. */
export type TimedStep =
  | { at: number; kind: 'event'; event: LlmEvent }
  | { at: number; kind: 'error'; error: RxllmErrorCode | Error; details?: RxllmErrorDetails }
  | { at: number; kind: 'complete' };

/**
 * A script as a list of timed steps in time order, ending with `complete` or
 * `error` (or with neither, for a marble diagram that never ends).
 *
 * @throws {@link RxllmError} `invalid-config` naming the step that is wrong; `where`
 * says which script it is (`'script for "gpt-4o"'`).
 */
export function compileScript(script: Script, where: string): TimedStep[] {
  if (Array.isArray(script)) return compileTokenScript(script as TokenScript, where);
  if (typeof script === 'object' && script !== null && typeof (script as MarbleScript).marbles === 'string') {
    return compileMarbleScript(script as MarbleScript, where);
  }
  throw invalid(where, 'expected an array of timed steps or { marbles, values }');
}

function compileTokenScript(script: TokenScript, where: string): TimedStep[] {
  const steps: TimedStep[] = [];
  let last = 0;
  script.forEach((step, index) => {
    const at = (step as { at?: unknown }).at;
    const here = `${where}, step ${index}`;
    if (typeof at !== 'number' || !Number.isFinite(at) || at < 0) {
      throw invalid(here, `\`at\` must be a number of milliseconds ≥ 0, got ${String(at)}`);
    }
    if (at < last) throw invalid(here, `steps must be in time order, but ${at} ms comes after ${last} ms`);
    if (steps.at(-1)?.kind === 'error') throw invalid(here, 'nothing can follow an error step');
    last = at;
    steps.push(compileStep(step, at, here));
  });
  if (steps.at(-1)?.kind !== 'error') steps.push({ at: last, kind: 'complete' });
  return steps;
}

function compileStep(step: ScriptStep, at: number, where: string): TimedStep {
  const kinds = (['text', 'finish', 'event', 'error'] as const).filter((key) => key in step);
  if (kinds.length !== 1) {
    throw invalid(where, `needs exactly one of text, finish, event or error, got ${kinds.join(', ') || 'none'}`);
  }
  const choice = 'choice' in step && step.choice !== undefined ? step.choice : 0;
  if ('text' in step) return { at, kind: 'event', event: { type: 'text', choice, text: String(step.text) } };
  if ('finish' in step) return { at, kind: 'event', event: { type: 'finish', choice, reason: step.finish } };
  if ('event' in step) return { at, kind: 'event', event: checkedEvent(step.event, where) };
  return step.details === undefined ? { at, kind: 'error', error: step.error } : { at, kind: 'error', error: step.error, details: step.details };
}

function compileMarbleScript(script: MarbleScript, where: string): TimedStep[] {
  const steps: TimedStep[] = [];
  for (const { frame, notification } of parseMarblesInMs(script, where)) {
    if (frame < 0) throw invalid(where, '"^" has no meaning in a script: frame 0 is the moment the request is subscribed');
    if (notification.kind === 'N') {
      const letter = String(notification.value);
      const values = script.values ?? {};
      if (!Object.hasOwn(values, letter)) throw invalid(where, `marble "${letter}" at ${frame} ms has no \`values.${letter}\``);
      steps.push({ at: frame, kind: 'event', event: checkedEvent(values[letter], `${where}, values.${letter}`) });
    } else {
      steps.push(notification.kind === 'E' ? { at: frame, kind: 'error', error: script.error ?? 'server' } : { at: frame, kind: 'complete' });
      break; // like a cold observable, nothing after the end is delivered
    }
  }
  return steps;
}

function parseMarblesInMs(script: MarbleScript, where: string) {
  // parseMarbles reads the static frameTimeFactor (10 outside TestScheduler.run(), 1 inside); a script's
  // frames must be milliseconds wherever it is compiled, so the factor is pinned to 1 for this synchronous call.
  const previous = TestScheduler.frameTimeFactor;
  TestScheduler.frameTimeFactor = 1;
  try {
    // Without a values map, each notification carries its letter, so a missing entry can be named.
    return TestScheduler.parseMarbles(script.marbles, undefined, undefined, false, true);
  } catch (error) {
    throw invalid(where, `marbles "${script.marbles}" do not parse: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    TestScheduler.frameTimeFactor = previous;
  }
}

function checkedEvent(value: unknown, where: string): LlmEvent {
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) {
    throw invalid(where, `must be an LlmEvent (use textEvent(), finishEvent(), ...), got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value as LlmEvent;
}

const EVENT_TYPES = new Set<string>(['text', 'reasoning', 'refusal', 'tool-call', 'usage', 'finish']);

function invalid(where: string, problem: string): RxllmError {
  return new RxllmError('invalid-config', `scriptedTransport: ${where}: ${problem}.`);
}

/** Options for {@link textScript}. */
export interface TextScriptConfig {
  /** When the first token arrives, in ms after subscribe. @defaultValue 0 */
  at?: number;
  /** The gap between tokens, in ms. @defaultValue 0 */
  every?: number;
  /** The finish reason sent with the last token. @defaultValue `'stop'` */
  finish?: FinishReason;
}

/**
 * A {@link TokenScript} that streams `text` word by word (each token keeps its
 * trailing whitespace): the first token at `at`, one every `every` ms, and the
 * finish with the last token.
 *
 * @example
 * ```ts
 * textScript('Hello brave new world', { at: 300, every: 20 });
 * // 'Hello ' at 300, 'brave ' at 320, 'new ' at 340, 'world' and finish at 360
 * ```
 */
export function textScript(text: string, config: TextScriptConfig = {}): TokenScript {
  const at = config.at ?? 0;
  const every = config.every ?? 0;
  const words = text.match(/\S+\s*|\s+/g) ?? [];
  const steps: ScriptStep[] = words.map((word, index) => ({ at: at + index * every, text: word }));
  steps.push({ at: at + Math.max(0, words.length - 1) * every, finish: config.finish ?? 'stop' });
  return steps;
}
