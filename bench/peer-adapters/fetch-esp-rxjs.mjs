// The smallest cancellable streaming client built on rxjs: the harness floor's fetch + eventsource-parser inside
// one `new Observable`, whose teardown aborts the request (an AbortSignal per request), with no validation, no
// typed errors, no middleware hooks. A reference point for rxllm's fan-out rows (docs/performance.md, "Goals not
// reached"): what rxjs plus cancellation cost before any of rxllm's own work. Copy into the harness's
// adapters/stream/ to run it (bench/peer-adapters/README.md).
import { createParser } from 'eventsource-parser';
import { Observable } from 'rxjs';

export default {
  name: 'fetch-esp-rxjs',
  label: 'raw fetch + eventsource-parser in one rxjs Observable, aborted on unsubscribe',
  order: 22,
  async create({ baseURL, apiKey }) {
    const url = `${baseURL}/chat/completions`;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
    const deltas = (req) =>
      new Observable((subscriber) => {
        const controller = new AbortController();
        let finished = false;
        (async () => {
          const res = await fetch(url, {
            method: 'POST',
            headers,
            body: JSON.stringify({ ...req, stream: true, stream_options: { include_usage: true } }),
            signal: controller.signal,
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const parser = createParser({
            onEvent(ev) {
              if (ev.data === '[DONE]') {
                finished = true;
                return;
              }
              const d = JSON.parse(ev.data).choices?.[0]?.delta?.content;
              if (d) subscriber.next(d);
            },
          });
          const decoder = new TextDecoder();
          for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
          if (!finished) throw new Error('stream ended without [DONE]');
          subscriber.complete();
        })().catch((error) => subscriber.error(error));
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
