// The peers' harness floor (adapters/stream/fetch-eventsource-parser.mjs) with one change: each request gets its
// own AbortController, whose signal goes to fetch(), as any client must that can cancel a request it started.
// A reference point for rxllm's fan-out rows (docs/performance.md, "The smallest client of the same kind"): what
// cancellation alone costs the floor. Copy into the harness's adapters/stream/ to run it (README.md here).
import { createParser } from 'eventsource-parser';

/**
 * The floor's request: one streamed chat completion with `fetch` + eventsource-parser, `onDelta` called with each
 * text delta; rejects if the body ends without `[DONE]`. `signal` (optional) goes to `fetch`; `fetch` defaults to
 * the global one. Also the floor of bench/request-setup.mjs, on its in-memory fetch.
 */
export async function streamFloor({ url, headers, signal, fetch = globalThis.fetch }, req, onDelta) {
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ ...req, stream: true, stream_options: { include_usage: true } }),
    ...(signal ? { signal } : {}),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  let done = false;
  const parser = createParser({
    onEvent(ev) {
      if (ev.data === '[DONE]') {
        done = true;
        return;
      }
      const d = JSON.parse(ev.data).choices?.[0]?.delta?.content;
      if (d) onDelta(d);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
  if (!done) throw new Error('stream ended without [DONE]');
}

export default {
  name: 'fetch-esp-abortable',
  label: 'raw fetch + eventsource-parser, with an AbortSignal per request',
  order: 21,
  async create({ baseURL, apiKey }) {
    const endpoint = { url: `${baseURL}/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` } };
    return {
      stream: (req, onDelta) => streamFloor({ ...endpoint, signal: new AbortController().signal }, req, onDelta),
    };
  },
};
