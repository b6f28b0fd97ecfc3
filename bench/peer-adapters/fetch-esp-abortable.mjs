// The peers' harness floor (adapters/stream/fetch-eventsource-parser.mjs) with one change: each request gets its
// own AbortController, whose signal goes to fetch(), as any client must that can cancel a request it started.
// A reference point for rxllm's fan-out rows (docs/performance.md, "Goals not reached"): what cancellation alone
// costs the floor. Copy into the harness's adapters/stream/ to run it (bench/peer-adapters/README.md).
import { createParser } from 'eventsource-parser';

export default {
  name: 'fetch-esp-abortable',
  label: 'raw fetch + eventsource-parser, with an AbortSignal per request',
  order: 21,
  async create({ baseURL, apiKey }) {
    const url = `${baseURL}/chat/completions`;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
    return {
      async stream(req, onDelta) {
        const controller = new AbortController();
        const res = await fetch(url, {
          method: 'POST',
          headers,
          body: JSON.stringify({ ...req, stream: true, stream_options: { include_usage: true } }),
          signal: controller.signal,
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        let done = false;
        const parser = createParser({
          onEvent(ev) {
            if (ev.data === '[DONE]') {
              done = true;
              return;
            }
            const j = JSON.parse(ev.data);
            const d = j.choices?.[0]?.delta?.content;
            if (d) onDelta(d);
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
        if (!done) throw new Error('stream ended without [DONE]');
      },
    };
  },
};
