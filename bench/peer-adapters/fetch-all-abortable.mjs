// The peers' harness pipeline floor (adapters/pipeline/fetch-promise-all.mjs) with one change: each request gets
// its own AbortController, whose signal goes to fetch(), as any client must that can cancel a request it started.
// A reference point for rxllm's pipeline rows (docs/performance.md, "The smallest client of the same kind"): what
// cancellation alone costs the floor. Copy into the harness's adapters/pipeline/ to run it (README.md here).

/**
 * The pipeline floor's request: one chat completion as a JSON body with `fetch`, resolving to the answer's text;
 * rejects on a status other than 2xx. `signal` (optional) goes to `fetch`.
 */
export async function completionFloor({ url, headers, signal }, step, input) {
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      model: step.model,
      max_tokens: step.max_tokens,
      messages: [
        { role: 'system', content: step.system },
        { role: 'user', content: input },
      ],
    }),
    ...(signal ? { signal } : {}),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const j = await res.json();
  return j.choices[0].message.content;
}

export default {
  name: 'fetch-all-abortable',
  label: 'raw fetch + Promise.all, with an AbortSignal per request',
  order: 11,
  async create({ baseURL, apiKey, steps }) {
    const endpoint = { url: `${baseURL}/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` } };
    return {
      async run(input) {
        const texts = await Promise.all(steps.map((s) => completionFloor({ ...endpoint, signal: new AbortController().signal }, s, input)));
        return Object.fromEntries(steps.map((s, i) => [s.id, texts[i]]));
      },
    };
  },
};
