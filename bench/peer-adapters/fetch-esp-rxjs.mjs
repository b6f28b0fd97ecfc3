// The smallest cancellable streaming client built on rxjs: the harness floor's request (fetch-esp-abortable.mjs)
// inside one `new Observable`, whose teardown aborts the request unless it finished, with no validation, no typed
// errors, no middleware hooks. A reference point for rxllm's fan-out rows (docs/performance.md, "The smallest
// client of the same kind"): what rxjs plus cancellation cost before any of rxllm's own work. Copy into the
// harness's adapters/stream/, beside fetch-esp-abortable.mjs, to run it (README.md here).
import { Observable } from 'rxjs';
import { streamFloor } from './fetch-esp-abortable.mjs';

export default {
  name: 'fetch-esp-rxjs',
  label: 'raw fetch + eventsource-parser in one rxjs Observable, aborted on unsubscribe',
  order: 22,
  async create({ baseURL, apiKey }) {
    const endpoint = { url: `${baseURL}/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` } };
    const deltas = (req) =>
      new Observable((subscriber) => {
        const controller = new AbortController();
        let finished = false;
        streamFloor({ ...endpoint, signal: controller.signal }, req, (delta) => subscriber.next(delta)).then(
          () => {
            finished = true;
            subscriber.complete();
          },
          (error) => subscriber.error(error),
        );
        return () => {
          if (!finished) controller.abort();
        };
      });
    return {
      stream: (req, onDelta) =>
        new Promise((resolve, reject) => {
          deltas(req).subscribe({ next: onDelta, error: reject, complete: resolve });
        }),
    };
  },
};
