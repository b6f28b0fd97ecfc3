import type { StandardSchemaV1 } from '@standard-schema/spec';
import { asyncScheduler, Observable, type SchedulerLike, Subscription } from 'rxjs';
import type { RequestContext, Served } from '../core/context.js';
import { isRxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import { PartialText } from '../internal/PartialText.js';
import type { LlmMessage, LlmRequest } from '../core/request.js';
import * as s from '../internal/check.js';
import { formatIssues, isStandardSchema } from '../internal/standardSchema.js';
import { withFields } from '../internal/withFields.js';
import type { Transport } from '../core/transport.js';
import { functionSchema, schedulerSchema, transportSchema, validateConfig } from '../core/validateConfig.js';
import { answerParser, invalidOutput, type ParsedAnswer } from '../operators/parse.js';
import { beforeDeadline } from './beforeDeadline.js';
import { isFinalValueOnly } from './finalValueOnly.js';
import { jsonResponseFormat } from './jsonResponseFormat.js';
import type { RunFunction, Runnable } from '../core/Progress.js';
import { runContext } from './runContext.js';
import type { StepState, StepStatus } from './StepState.js';

/** Options for {@link step}. */
export interface StepConfig<S extends StandardSchemaV1 = StandardSchemaV1> {
  /** Where the step's requests go (a transport with its middleware, see `withMiddleware`). */
  transport: Transport;
  /**
   * A schema for the answer: any Standard Schema v1 validator (zod 4, zod ≥ 3.24,
   * valibot, arktype, ...), which validates the final text through its
   * `~standard.validate`; the value is the schema's output type.
   *
   * The step asks for JSON (unless the request sets its own `response_format`):
   * a `json_schema` response format with `jsonSchema` when given, else with the
   * JSON Schema the library produces (`~standard.jsonSchema`, zod 4); a library
   * that produces none (zod 3, valibot) gets `json_object` mode and a system
   * message asking for JSON. ```json fences are tolerated, and for an enum
   * (`s.enum`, valibot's `picklist`) a bare label (`Positive.`) is accepted. A
   * non-object schema is asked for as `{ "value": ... }` (OpenAI requires an
   * object root) and unwrapped. Without `output` the value is the answer's text.
   */
  output?: S;
  /**
   * The JSON Schema of `output`, sent as the `json_schema` response format, for a
   * schema library that cannot produce one itself (valibot with
   * `@valibot/to-json-schema`'s `toJsonSchema(schema)`, zod 3 with
   * `zod-to-json-schema`). Takes precedence over the library's own. Only with `output`.
   */
  jsonSchema?: Record<string, unknown>;
  /**
   * How many times to re-ask, with the validation error in a follow-up
   * message, when the answer does not match `output`.
   * @defaultValue 0
   */
  reasks?: number;
  /**
   * The clock for `startedAt` / `firstTokenAt` / `endedAt`, and for the
   * deadline timer when a run is given a context with a deadline.
   * @defaultValue asyncScheduler
   */
  scheduler?: SchedulerLike;
}

/**
 * A named LLM call: builds a request from an input, streams it, and produces
 * a value. Two views of one definition, both cold and both pre-bound (so
 * `switchMap(summary.value)` works):
 * - `run(input, context?)`: every {@link StepState}, from `waiting` to `done` with the value;
 * - `value(input, context?)`: only the final value.
 *
 * The optional {@link RequestContext} is what the step's requests carry
 * beside them (with `step` set to the step's name): a parent pipeline's
 * deadline, a lane, attributes.
 *
 * A Step is a {@link Runnable}, so it can be a `parallel()` branch or a `graph()` node as is.
 */
export interface Step<I, O> extends Runnable<I, O, StepState<O>> {
  /** The step's name: the request context's `step` (so middleware groups metrics, routing and hedging by it) and an error's `step`. */
  readonly name: string;
  /** Every state, `waiting` → `streaming` (on each token) → `done` with the value; cold, unsubscribe aborts the request. */
  readonly run: RunFunction<I, StepState<O>>;
  /** Only the final value: emits once and completes, or errors (`invalid-output` after the re-asks); cold. */
  readonly value: RunFunction<I, O>;
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
 * `run(input, context?)` emits a `waiting` state on subscribe, a `streaming`
 * state per text token (and one for the first non-text token), then one
 * `done` state with the value, and completes. It errors with the transport's
 * error (an {@link RxllmError} gets `step` set to this step's name, unless an
 * inner step already named itself), or with an `invalid-output`
 * {@link RxllmError} (`raw` = the answer, `issues` = the schema library's issues, `step`;
 * the same error as the {@link parse} operator) when the answer does not
 * match `output` after `reasks` re-asks.
 * A re-ask emits a `waiting` state with `reask` incremented and `textSoFar`
 * reset. Cold: `buildRequest` runs and the request is sent on subscribe, one
 * per subscription. Unsubscribe unsubscribes the transport, aborting the request.
 *
 * Context: every request is sent as `transport(request, context)` with
 * `context` = the run's context (if any) plus `step: name` and an `onServed`
 * that records which model or candidate answered (told by `fallback()` or
 * `route()`) as the states' `served` (and passes the report on to the
 * context's own `onServed`). With a `deadline` in the context, a run whose
 * deadline has already passed errors on subscribe with a `timeout`
 * {@link RxllmError} and sends nothing; one still running at the deadline is
 * unsubscribed (aborting its request) and errors with `timeout`.
 *
 * Streaming or one body: `run()` streams (its states show the text as it grows). `value()`,
 * which shows no token, asks for one JSON body (`stream: false`) when the request leaves `stream`
 * unset, and so does a `parallel()` group's `value()` for its step branches: the answer costs one
 * write and one parse instead of a write, a read and a decode per token. Middleware then sees the
 * whole answer arrive at once (`timeouts()` arms only `total` and the deadline for it, and
 * `measure()` records its time to first token as its total). Set `stream: true` in the request to
 * keep streaming under `value()`.
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
 * import { asyncScheduler } from 'rxjs';
 * import { step, sseTransport } from 'rxllm';
 *  *
 * const transport = sseTransport({ baseURL: 'http://127.0.0.1:8787/v1' });
 * const sentiment = step(
 *   'sentiment',
 *   (text: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Sentiment of: ${text}` }] }),
 *   { transport, output: s.oneOf(['positive', 'negative', 'neutral']), reasks: 1 },
 * );
 * sentiment.run(article).subscribe((state) => render(state.textSoFar));
 * const label = await lastValueFrom(sentiment.value(article));
 * // The whole step, re-asks included, within 5 s (transport middleware sees the deadline too):
 * sentiment.value(article, { deadline: asyncScheduler.now() + 5_000 });
 * ```
 * @see parallel
 * @see graph
 */
export function step<I, S extends StandardSchemaV1>(
  name: string,
  buildRequest: (input: I) => LlmRequest,
  config: StepConfig<S> & { output: S },
): Step<I, StandardSchemaV1.InferOutput<S>>;
export function step<I>(name: string, buildRequest: (input: I) => LlmRequest, config: StepConfig): Step<I, string>;
export function step<I>(name: string, buildRequest: (input: I) => LlmRequest, config: StepConfig): Step<I, unknown> {
  const { transport, output, jsonSchema, reasks = 0, scheduler = asyncScheduler } = validate(name, buildRequest, config);
  const format = output ? answerFormat(name, output, jsonSchema) : undefined;
  const subject = { what: `step "${name}"`, step: name };

  // One subscriber per run (not defer + concat + filter + map per ask): a step's own cost is
  // paid before its request is sent, once per request a pipeline starts at once.
  // `onlyValue`: the run of `value()` (and of a `parallel().value()` branch), which emits the value
  // alone: no state objects, no clock readings, and one JSON body unless the request sets `stream`.
  const states = (input: I, parent: RequestContext | undefined, onlyValue: boolean): Observable<StepState<unknown>> =>
    new Observable<StepState<unknown>>((subscriber) => {
      // Per subscription: each run has its own clock readings, and its own report of who answered.
      const startedAt = onlyValue ? 0 : scheduler.now();
      let firstTokenAt: number | undefined;
      let served: Served | undefined;
      const context: RequestContext = withFields(parent, {
        step: name,
        onServed: (report: Served) => {
          served = report;
          parent?.onServed?.(report);
        },
      });
      const requests = new Subscription();
      // One literal per state, its status in it: a literal that starts with a spread of a base, as
      // `{ ...base(), status }` did, gives every state a hidden class of its own (see withFields).
      // Status comes before the optional fields, so it sits at one offset in every state: after them,
      // reading it cost 219-252 instead of 93 ns per token (bench/tools/state-emissions.mjs).
      const state = <S extends StepStatus>(status: S, textSoFar: string, reask: number) => ({
        step: name,
        status,
        textSoFar,
        reask,
        startedAt,
        ...(firstTokenAt === undefined ? {} : { firstTokenAt }),
        ...(served === undefined ? {} : { served }),
      });

      const ask = (request: LlmRequest, reask: number): void => {
        const partial = new PartialText();
        // A re-ask is a new request: whoever answered the last one is not news for this one.
        served = undefined;
        if (!onlyValue) subscriber.next(state('waiting', '', reask));
        let events: Observable<LlmEvent>;
        try {
          events = transport(request, context);
        } catch (error) {
          // A transport that throws instead of returning an observable errors the run, re-asks included.
          fail(error);
          return;
        }
        requests.add(
          events.subscribe({
            next: onlyValue
              ? (event: LlmEvent) => void partial.add(event)
              : (event: LlmEvent) => {
                  const started = partial.tokensEmitted;
                  const grew = partial.add(event);
                  if (!partial.tokensEmitted) return; // not content: usage, finish
                  // A non-text token (reasoning, tool call) shows once that the model has started.
                  firstTokenAt ??= scheduler.now();
                  if (grew || !started) subscriber.next(state('streaming', partial.text, reask));
                },
            error: fail,
            complete: () => settle(request, partial.text, reask),
          }),
        );
      };

      const fail = (error: unknown): void =>
        subscriber.error(isRxllmError(error) && error.step === undefined ? error.with({ step: name }) : error);

      const settle = (request: LlmRequest, text: string, reask: number): void => {
        const parsed = format ? format.parse(text) : { ok: true as const, value: text };
        if (parsed instanceof Promise) {
          // An async validator: the run waits for it; unsubscribing meanwhile drops its answer.
          let open = true;
          requests.add(() => (open = false));
          parsed.then(
            (result) => open && settled(request, text, reask, result),
            (error: unknown) => open && subscriber.error(error),
          );
        } else {
          settled(request, text, reask, parsed);
        }
      };

      const settled = (request: LlmRequest, text: string, reask: number, parsed: ParsedAnswer<unknown>): void => {
        if (parsed.ok) {
          // In a value-only run the "state" is the value itself (see `value` below).
          subscriber.next(
            onlyValue
              ? (parsed.value as StepState<unknown>)
              : withFields(state('done', text, reask), { value: parsed.value, endedAt: scheduler.now() }),
          );
          subscriber.complete();
        } else if (reask < reasks) {
          ask(followUp(request, text, parsed.issues), reask + 1);
        } else {
          subscriber.error(invalidOutput({ step: name, raw: text, issues: parsed.issues, json: parsed.json, reasks }));
        }
      };

      const request = withFormat(buildRequest(input), format);
      // A caller that reads only the final value gets it from one JSON body: no token is shown, and
      // a stream costs both sides a write, a read and a decode per token. A request that sets
      // `stream` keeps it.
      ask((onlyValue || isFinalValueOnly(parent)) && request.stream === undefined ? withFields(request, { stream: false }) : request, 0);
      return requests;
    });

  const guarded = <T>(run$: Observable<T>, parent: RequestContext | undefined): Observable<T> =>
    parent?.deadline === undefined ? run$ : run$.pipe(beforeDeadline<T>(subject, parent, scheduler));
  const run = ((input: I, context?: unknown) => {
    const parent = runContext(context);
    return guarded(states(input, parent, false), parent);
  }) as RunFunction<I, StepState<unknown>>;
  // The value-only run emits the value where run() emits its `done` state: the same requests, the
  // same errors and deadline, none of the states (a step always ends with `done` or an error).
  const values = (input: I, context: RequestContext | undefined): Observable<unknown> =>
    guarded(states(input, context, true) as Observable<unknown>, context);
  const value = ((input: I, context?: unknown) => values(input, runContext(context))) as RunFunction<I, unknown>;
  stepValues.set(run, values);

  return { name, run, value };
}

/**
 * The value-only run of each step made here, by its `run` function: a `parallel()` group's
 * `value()` runs its step branches this way (their values, no states). Internal to the pipeline layer.
 */
const stepValues = new WeakMap<RunFunction<never, unknown>, (input: never, context: RequestContext | undefined) => Observable<unknown>>();

/**
 * The value-only run of `runnable` when it is a step (emits the step's value alone, asks for one
 * JSON body unless the request sets `stream`), else undefined.
 * @internal
 */
export function stepValueRun(runnable: { run: unknown }): ((input: unknown, context: RequestContext | undefined) => Observable<unknown>) | undefined {
  return stepValues.get(runnable.run as RunFunction<never, unknown>) as ((input: unknown, context: RequestContext | undefined) => Observable<unknown>) | undefined;
}

/** What a step with an `output` schema asks for, and how it reads the answer. */
interface AnswerFormat {
  responseFormat: NonNullable<LlmRequest['response_format']>;
  instruction: LlmMessage | undefined;
  parse: (text: string) => ParsedAnswer<unknown> | Promise<ParsedAnswer<unknown>>;
}

function answerFormat(name: string, output: StandardSchemaV1, jsonSchema: Record<string, unknown> | undefined): AnswerFormat {
  const { responseFormat, root, instruction } = jsonResponseFormat(name, output, jsonSchema);
  return { responseFormat, instruction, parse: answerParser(output, root) };
}

function withFormat(request: LlmRequest, format: AnswerFormat | undefined): LlmRequest {
  // A response_format the caller set wins: they know what their endpoint supports.
  if (!format || request.response_format) return request;
  const messages = format.instruction ? [...request.messages, format.instruction] : request.messages;
  return withFields(request, { messages, response_format: format.responseFormat });
}

function followUp(request: LlmRequest, answer: string, issues: readonly StandardSchemaV1.Issue[]): LlmRequest {
  return withFields(request, {
    messages: [
      ...request.messages,
      { role: 'assistant', content: answer },
      {
        role: 'user',
        content:
          `Your previous answer does not match the required format:\n${formatIssues(issues)}\n` +
          `Reply again with only the corrected answer as JSON, no other text.`,
      },
    ],
  });
}

const stepArguments = s.object({
  name: s.string('expected the step\'s name, a non-empty string').min(1, 'expected the step\'s name, a non-empty string'),
  buildRequest: functionSchema<(input: unknown) => LlmRequest>('a function (input) => LlmRequest'),
  config: s.strictObject(
    {
      transport: transportSchema,
      output: s
        .custom<StandardSchemaV1>(isStandardSchema, 'expected a Standard Schema validator (a zod, valibot or arktype schema, ...)')
        .optional(),
      jsonSchema: s.record(s.string(), s.unknown()).optional(),
      reasks: s.number().int().nonnegative().optional(),
      scheduler: schedulerSchema.optional(),
    },
    // Only a missing or non-object config gets this message; unknown keys get their own.
    "expected the step's options: { transport, output?, jsonSchema?, reasks?, scheduler? }",
  ).refine((config) => config.jsonSchema === undefined || config.output !== undefined, {
    message: '`jsonSchema` describes `output`: give the output schema too',
    path: ['jsonSchema'],
  }),
});

function validate(name: unknown, buildRequest: unknown, config: unknown): StepConfig {
  return validateConfig(`step(${JSON.stringify(name)})`, stepArguments, { name, buildRequest, config }).config;
}
