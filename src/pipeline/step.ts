import { asyncScheduler, defer, Observable, type SchedulerLike, Subscription } from 'rxjs';
import { z } from 'zod';
import { isRxllmError, RxllmError } from '../core/errors.js';
import { isContentEvent, type LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import type { Transport } from '../core/transport.js';
import { finalValue } from './finalValue.js';
import { outputFormat, type OutputFormat } from './outputFormat.js';
import type { Runnable } from './Progress.js';
import type { StepState } from './StepState.js';

/** Options for {@link step}. */
export interface StepConfig<S extends z.ZodType = z.ZodType> {
  /** Where the step's requests go (a transport with its middleware, see `withMiddleware`). */
  transport: Transport;
  /**
   * A zod schema for the answer. The step then asks for JSON (`response_format`
   * json_schema built with `z.toJSONSchema`, unless the request sets its own
   * `response_format`), and parses and validates the final text: ```json fences
   * are tolerated, and for a `z.enum` a bare label (`Positive.`) is accepted.
   * A non-object schema is asked for as `{ "value": ... }` (OpenAI requires an
   * object root) and unwrapped. Without `output` the value is the answer's text.
   */
  output?: S;
  /**
   * How many times to re-ask, with the validation error in a follow-up
   * message, when the answer does not match `output`.
   * @defaultValue 0
   */
  reasks?: number;
  /** The clock for `startedAt` / `firstTokenAt` / `endedAt`. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/**
 * A named LLM call: builds a request from an input, streams it, and produces
 * a value. Two views of one definition, both cold and both pre-bound (so
 * `switchMap(summary.value)` works):
 * - `run(input)`: every {@link StepState}, from `waiting` to `done` with the value;
 * - `value(input)`: only the final value.
 *
 * A Step is a {@link Runnable}, so it can be a `parallel()` branch or a `graph()` node as is.
 */
export interface Step<I, O> extends Runnable<I, O, StepState<O>> {
  readonly name: string;
  readonly run: (input: I) => Observable<StepState<O>>;
  readonly value: (input: I) => Observable<O>;
}

/**
 * Defines a named pipeline step: `buildRequest(input)` is sent through
 * `config.transport`, the answer streams out as {@link StepState}s, and the
 * final text (validated by `config.output`, if given) becomes the value.
 *
 * ```text
 * transport:  --t(Pos)--t(itive)--f|
 * run:        w-s-------s---------(d|)     w waiting, s streaming (textSoFar grows), d done
 * value:      --------------------(v|)
 * ```
 *
 * `run(input)` emits a `waiting` state on subscribe, a `streaming` state per
 * text token (and one for the first non-text token), then one `done` state
 * with the value, and completes. It errors with the transport's error (an
 * {@link RxllmError} gets `step` set to this step's name, unless an inner step
 * already named itself), or with an `invalid-output` {@link RxllmError} (`raw` =
 * the answer, `cause` = the `ZodError`, `step`) when the answer does not match
 * `output` after `reasks` re-asks.
 * A re-ask emits a `waiting` state with `reask` incremented and `textSoFar`
 * reset. Cold: `buildRequest` runs and the request is sent on subscribe, one
 * per subscription. Unsubscribe unsubscribes the transport, aborting the request.
 *
 * Why an object rather than a function: one definition serves the UI (states)
 * and the logic (value) without running twice, carries its name into errors
 * and timelines, and passes as a branch or node to `parallel()` and `graph()`.
 *
 * @throws {@link RxllmError} `invalid-config` at construction when a
 * parameter is wrong or the schema cannot be expressed as JSON Schema.
 *
 * @example
 * ```ts
 * import { step, sseTransport } from 'rxllm';
 * import { z } from 'zod';
 *
 * const transport = sseTransport({ baseURL: 'http://127.0.0.1:8787/v1' });
 * const sentiment = step(
 *   'sentiment',
 *   (text: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Sentiment of: ${text}` }] }),
 *   { transport, output: z.enum(['positive', 'negative', 'neutral']), reasks: 1 },
 * );
 * sentiment.run(article).subscribe((state) => render(state.textSoFar));
 * const label = await lastValueFrom(sentiment.value(article));
 * ```
 * @see parallel
 * @see graph
 */
export function step<I, S extends z.ZodType>(
  name: string,
  buildRequest: (input: I) => LlmRequest,
  config: StepConfig<S> & { output: S },
): Step<I, z.output<S>>;
export function step<I>(name: string, buildRequest: (input: I) => LlmRequest, config: StepConfig): Step<I, string>;
export function step<I>(name: string, buildRequest: (input: I) => LlmRequest, config: StepConfig): Step<I, unknown> {
  validate(name, buildRequest, config);
  const { transport, reasks = 0, scheduler = asyncScheduler } = config;
  const format = config.output ? outputFormat(name, config.output) : undefined;

  // One subscriber per run (not defer + concat + filter + map per ask): a step's own cost is
  // paid before its request is sent, once per request a pipeline starts at once.
  const run = (input: I): Observable<StepState<unknown>> =>
    new Observable<StepState<unknown>>((subscriber) => {
      // Per subscription: each run has its own clock readings.
      const startedAt = scheduler.now();
      let firstTokenAt: number | undefined;
      const requests = new Subscription();
      const base = (textSoFar: string, reask: number) => ({
        step: name,
        textSoFar,
        reask,
        startedAt,
        ...(firstTokenAt === undefined ? {} : { firstTokenAt }),
      });

      const ask = (request: LlmRequest, reask: number): void => {
        let text = '';
        let started = false;
        subscriber.next({ ...base('', reask), status: 'waiting' });
        requests.add(
          // defer: a transport that throws instead of returning an observable errors the run, re-asks included.
          defer(() => transport(request)).subscribe({
            next: (event: LlmEvent) => {
              if (!isContentEvent(event)) return;
              const isText = event.type === 'text' && event.choice === 0;
              if (isText) text += event.text;
              // A non-text token (reasoning, tool call) shows once that the model has started.
              const changed = (isText && event.text !== '') || !started;
              started = true;
              firstTokenAt ??= scheduler.now();
              if (changed) subscriber.next({ ...base(text, reask), status: 'streaming' });
            },
            error: (error: unknown) => subscriber.error(isRxllmError(error) && error.step === undefined ? error.with({ step: name }) : error),
            complete: () => settle(request, text, reask),
          }),
        );
      };

      const settle = (request: LlmRequest, text: string, reask: number): void => {
        const parsed = format ? format.parse(text) : ({ ok: true, value: text } as const);
        if (parsed.ok) {
          subscriber.next({ ...base(text, reask), status: 'done', value: parsed.value, endedAt: scheduler.now() });
          subscriber.complete();
        } else if (reask < reasks) {
          ask(followUp(request, text, parsed.error), reask + 1);
        } else {
          subscriber.error(invalidOutput(name, text, parsed.error, parsed.json, reasks));
        }
      };

      ask(withFormat(buildRequest(input), format), 0);
      return requests;
    });

  return { name, run, value: (input: I) => run(input).pipe(finalValue(name)) };
}

function withFormat(request: LlmRequest, format: OutputFormat<unknown> | undefined): LlmRequest {
  // A response_format the caller set wins: they know what their endpoint supports.
  if (!format || request.response_format) return request;
  return { ...request, response_format: format.responseFormat };
}

function followUp(request: LlmRequest, answer: string, error: z.ZodError): LlmRequest {
  return {
    ...request,
    messages: [
      ...request.messages,
      { role: 'assistant', content: answer },
      {
        role: 'user',
        content:
          `Your previous answer does not match the required format:\n${z.prettifyError(error)}\n` +
          `Reply again with only the corrected answer as JSON, no other text.`,
      },
    ],
  };
}

function invalidOutput(name: string, raw: string, error: z.ZodError, json: boolean, reasks: number): RxllmError {
  const tries = reasks === 0 ? '' : ` (after ${reasks} re-ask${reasks === 1 ? '' : 's'})`;
  const what = json ? 'JSON that does not match its output schema' : 'text that is not JSON and does not match its output schema';
  return new RxllmError(
    'invalid-output',
    `step "${name}" answered ${what}${tries}:\n${z.prettifyError(error)}\n` +
      `The answer is in error.raw. Make the prompt more explicit, loosen the schema, or raise \`reasks\`.`,
    { raw, cause: error, step: name },
  );
}

function validate(name: unknown, buildRequest: unknown, config: StepConfig | undefined): void {
  const problems: string[] = [];
  if (typeof name !== 'string' || name === '') problems.push('`name` must be a non-empty string');
  if (typeof buildRequest !== 'function') problems.push('`buildRequest` must be a function (input) => LlmRequest');
  if (typeof config?.transport !== 'function') problems.push('`transport` is required: pass a Transport such as sseTransport(...)');
  const reasks = config?.reasks;
  if (reasks !== undefined && !(Number.isInteger(reasks) && reasks >= 0)) {
    problems.push(`\`reasks\` must be an integer ≥ 0, got ${String(reasks)}`);
  }
  if (config?.output !== undefined && !(config.output instanceof z.ZodType)) problems.push('`output` must be a zod schema');
  if (problems.length) {
    throw new RxllmError('invalid-config', `step(${JSON.stringify(name)}): ${problems.join('; ')}.`);
  }
}
