/**
 * The built-in simulator over HTTP: start it, call it with `sseTransport` (any OpenAI client
 * works), and read its counters. Three independent steps run sequentially and then in
 * parallel, a stream is cancelled mid-answer (the server counts the abort), an injected 429
 * arrives as a typed `rate-limited` error, and `/stats` shows it all.
 *
 *   npx ts-node examples/simulator.ts
 *
 * The same server runs from the command line: `rxllm serve --port 8787`. In an app the imports
 * are `from 'rxllm'` and `from 'rxllm/node'`.
 */
import { concatMap, forkJoin, from, lastValueFrom, map, take, toArray } from 'rxjs';
import { isRxllmError, sseTransport, text, type LlmRequest } from 'rxllm';
import { startSimulatorServer } from 'rxllm/node';

const review = `The new release is fast and the setup was easy, but the export feature crashed twice
and support took three days to answer. Caching made the dashboard feel instant.`;

const ask = (content: string): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
const steps = {
  sentiment: ask(`Classify the sentiment of this review as positive, negative or neutral:\n\n${review}`),
  summary: ask(`Summarize in one sentence:\n\n${review}`),
  keywords: ask(`Extract 3 keywords from this text:\n\n${review}`),
};

async function main(): Promise<void> {
  const server = await startSimulatorServer({ seed: 7 });
  console.log(`simulator listening on ${server.url}`);
  const llm = sseTransport({ baseURL: server.baseURL });
  const answer = (request: LlmRequest) => llm(request).pipe(text());
  const clock = () => {
    const start = performance.now();
    return () => Math.round(performance.now() - start);
  };

  // The default way: one request after another.
  let elapsed = clock();
  await lastValueFrom(from(Object.values(steps)).pipe(concatMap(answer), toArray()));
  const sequentialMs = elapsed();

  // The rxllm way: independent steps at once; wall time ≈ the slowest step.
  elapsed = clock();
  const results = await lastValueFrom(forkJoin({ sentiment: answer(steps.sentiment), summary: answer(steps.summary), keywords: answer(steps.keywords) }));
  const parallelMs = elapsed();
  console.log('\nanswers:', results);
  console.log(`sequential: ${sequentialMs} ms, parallel: ${parallelMs} ms`);

  // Cancellation is real: unsubscribing after three tokens closes the HTTP request.
  server.resetStats();
  const firstTokens = await lastValueFrom(
    llm({ ...ask('Tell me a long story about observables'), rxllm_sim: 'tokens=300' } as LlmRequest).pipe(
      concatMap((event) => (event.type === 'text' ? [event.text] : [])),
      take(3),
      toArray(),
      map((pieces) => pieces.join('')),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 50)); // the server sees the close a moment later
  console.log(`\ncancelled after ${JSON.stringify(firstTokens)}: aborts=${server.stats().aborts}, inFlight=${server.stats().inFlight}`);

  // Faults arrive as typed errors: here a 429 forced by the per-request override.
  await lastValueFrom(llm({ ...ask('Hi'), rxllm_sim: 'fault=429,retry_after=1500' } as LlmRequest)).catch((error: unknown) => {
    if (isRxllmError(error)) console.log(`injected fault: ${error.code}, retry after ${error.retryAfterMs} ms`);
  });

  console.log('\nGET /stats:', await (await fetch(`${server.url}/stats`)).json());
  await server.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
