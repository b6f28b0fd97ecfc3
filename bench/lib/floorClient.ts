import { createParser } from 'eventsource-parser';

/**
 * The floor every streaming figure is a ratio to: the minimal correct hand-written client (the
 * peers' harness's `fetch-esp`). One streamed chat completion with `fetch` + eventsource-parser,
 * `onDelta` called with each text delta; rejects if the body ends without `[DONE]`.
 * One copy for bench/transport-cpu and bench/tools/reopt-count.js, so both measure the same floor.
 */
export async function streamFloor(baseURL: string, request: object, onDelta: (text: string) => void): Promise<void> {
  const response = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
    body: JSON.stringify({ ...request, stream: true, stream_options: { include_usage: true } }),
  });
  let done = false;
  const parser = createParser({
    onEvent: (message) => {
      if (message.data === '[DONE]') {
        done = true;
        return;
      }
      const content = (JSON.parse(message.data) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content;
      if (content) onDelta(content);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  if (!done) throw new Error('the stream ended without [DONE]');
}
