// The smallest cancellable pipeline built on rxjs: the pipeline floor's request (fetch-all-abortable.mjs) inside one
// `new Observable` per step, whose teardown aborts the request unless it finished, the steps joined with forkJoin
// into the record of answers. No validation, typed errors, middleware hooks, step states or run context. A reference
// point for rxllm's pipeline rows (docs/performance.md, "The smallest client of the same kind"): what rxjs plus
// cancellation cost before any of rxllm's own work. Copy into the harness's adapters/pipeline/, beside
// fetch-all-abortable.mjs, to run it (README.md here).
import { forkJoin, lastValueFrom, Observable } from 'rxjs';
import { completionFloor } from './fetch-all-abortable.mjs';

export default {
  name: 'fetch-all-rxjs',
  label: 'raw fetch, one rxjs Observable per step aborted on unsubscribe, forkJoin',
  order: 12,
  async create({ baseURL, apiKey, steps }) {
    const endpoint = { url: `${baseURL}/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` } };
    const answer = (step, input) =>
      new Observable((subscriber) => {
        const controller = new AbortController();
        let finished = false;
        completionFloor({ ...endpoint, signal: controller.signal }, step, input).then(
          (text) => {
            finished = true;
            subscriber.next(text);
            subscriber.complete();
          },
          (error) => subscriber.error(error),
        );
        return () => {
          if (!finished) controller.abort();
        };
      });
    return {
      run: (input) => lastValueFrom(forkJoin(Object.fromEntries(steps.map((s) => [s.id, answer(s, input)])))),
    };
  },
};
