/**
 * De-duplication, the response cache and prefetch, against the simulator
 * server over real HTTP (its `/stats` counts what reached the "model"):
 *
 * 1. ten identical requests at once, without and with `dedupe()`: upstream calls;
 * 2. the same request again through `cache()`: a hit's latency against the first call;
 * 3. a likely follow-up prefetched while the user reads the summary: answered
 *    at once when asked for, and the time saved.
 *
 *   npx ts-node examples/dedupe-cache-prefetch.ts
 */
import { lastValueFrom, type Observable } from 'rxjs';
import { cache, dedupe, prefetcher, prefetchWhen, result, sseTransport, withMiddleware, type LlmEvent, type LlmRequest } from 'rxllm';
import { startSimulatorServer } from 'rxllm/node';

const article = `Reactive pipelines start every independent model call at once, show tokens as
they arrive, and cancel work nobody is waiting for.`;

const ask = (content: string): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], temperature: 0 });
const summaryRequest = ask(`Summarize this text in one sentence:\n\n${article}`);
const keywordsRequest = ask(`List five keywords for this text:\n\n${article}`);

/** Milliseconds from subscribe to the answer's end (performance.now: the example measures, it is not operator logic). */
async function timed(events$: Observable<LlmEvent>): Promise<{ ms: number; text: string }> {
  const started = performance.now();
  const { text } = await lastValueFrom(events$.pipe(result()));
  return { ms: performance.now() - started, text };
}

async function main(): Promise<void> {
  const server = await startSimulatorServer({ seed: 11 });
  try {
    const transport = sseTransport({ baseURL: server.baseURL });

    // 1. De-duplication: ten components ask the same question in the same tick.
    await Promise.all(Array.from({ length: 10 }, () => lastValueFrom(transport(summaryRequest).pipe(result()))));
    const without = server.stats().requests;
    server.resetStats();
    const deduped = withMiddleware(transport, dedupe());
    await Promise.all(Array.from({ length: 10 }, () => lastValueFrom(deduped(summaryRequest).pipe(result()))));
    console.log(`10 identical requests at once: ${without} upstream calls without dedupe(), ${server.stats().requests} with it`);

    // 2. The response cache (a burst costs one lookup either way: cache() shares in-flight requests as dedupe() does).
    const answers = cache({ ttl: 10 * 60_000 });
    const llm = withMiddleware(transport, dedupe(), answers);
    const first = await timed(llm(summaryRequest));
    const again = await timed(llm(summaryRequest));
    console.log(`summary: ${first.ms.toFixed(0)} ms from the model, ${again.ms.toFixed(2)} ms from the cache (same text: ${first.text === again.text})`);
    console.log('cache stats', answers.stats());

    // 3. Prefetch: as the summary arrives, start the keywords the user will likely ask for next.
    const ahead = prefetcher({ transport: llm, ttl: 30_000 });
    const cold = await timed(transport(keywordsRequest)); // what the follow-up costs when nobody prefetched it
    const summaryWithPrefetch = llm(ask(`Summarize this in one sentence, please:\n\n${article}`)).pipe(
      prefetchWhen(ahead, (event) => (event.type === 'finish' ? { name: 'likely_followup_keywords', request: keywordsRequest } : null)),
    );
    await lastValueFrom(summaryWithPrefetch.pipe(result()));
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // the user reads the summary
    const taken = await timed(ahead.take('likely_followup_keywords', { timeout: 2_000, request: keywordsRequest }));
    console.log(`keywords: ${cold.ms.toFixed(0)} ms when asked cold, ${taken.ms.toFixed(2)} ms when prefetched`);
    console.log('prefetch stats', ahead.stats());
    ahead.clear();
  } finally {
    await server.close();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
