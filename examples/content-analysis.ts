/**
 * The article's content-analysis pipeline: sentiment, a one-sentence summary
 * and five keywords for a text, run sequentially (the default way) and then in
 * parallel with rxllm. The pipeline is written against a `Transport` passed in,
 * so the same code runs on the in-process simulator (the default here), on
 * `sseTransport` against the simulator server or OpenAI, or on a marble-test fake.
 *
 *   npx ts-node examples/content-analysis.ts
 */
import { asyncScheduler, concatMap, last, lastValueFrom, map, type Observable } from 'rxjs';
import { z } from 'zod';
import { parallel, step, type Transport } from 'rxllm';
import { simulatedTransport } from 'rxllm/simulator';

const model = 'gpt-4o-mini';

/** The three steps, on whatever transport the caller chose. */
export function contentAnalysis(transport: Transport) {
  const sentiment = step(
    'sentiment',
    (text: string) => ({
      model,
      messages: [{ role: 'user', content: `Classify the sentiment of this text as positive, negative or neutral:\n\n${text}` }],
    }),
    { transport, output: z.enum(['positive', 'negative', 'neutral']), reasks: 1 },
  );
  const summary = step(
    'summary',
    (text: string) => ({
      model,
      messages: [{ role: 'user', content: `Summarize this text in one sentence:\n\n${text}` }],
    }),
    { transport },
  );
  const keywords = step(
    'keywords',
    (text: string) => ({
      model,
      messages: [{ role: 'user', content: `List five keywords for this text:\n\n${text}` }],
    }),
    { transport, output: z.array(z.string()).length(5), reasks: 1 },
  );
  return { sentiment, summary, keywords };
}

type Steps = ReturnType<typeof contentAnalysis>;
type Analysis = { sentiment: string; summary: string; keywords: string[] };

/** The default way: each request waits for the one before it. */
export function sequential(steps: Steps, text: string): Observable<Analysis> {
  return steps.sentiment.value(text).pipe(
    concatMap((sentiment) => steps.summary.value(text).pipe(map((summary) => ({ sentiment, summary })))),
    concatMap((partial) => steps.keywords.value(text).pipe(map((keywords) => ({ ...partial, keywords })))),
  );
}

/** rxllm: the three at once; wall time is the slowest step. */
export function inParallel(steps: Steps, text: string): Observable<Analysis> {
  return parallel(steps).value(text);
}

const article = `Reactive pipelines let an application start every independent model call at once,
show tokens as soon as they arrive, and cancel work nobody is waiting for. Teams that adopted
them report pages that feel twice as fast without changing models.`;

async function main(): Promise<void> {
  const transport = simulatedTransport({ seed: 7 });
  const steps = contentAnalysis(transport);

  const started = asyncScheduler.now();
  const one = await lastValueFrom(sequential(steps, article));
  const sequentialMs = asyncScheduler.now() - started;
  console.log(`sequential ${sequentialMs.toFixed(0).padStart(5)} ms`, JSON.stringify(one));

  // run() instead of value(): the final state carries every branch's timings too.
  const done = await lastValueFrom(parallel(steps).run(article).pipe(last()));
  if (done.status !== 'done') throw new Error('a parallel run ends done or errors');
  const parallelMs = done.endedAt - done.startedAt;
  console.log(`parallel   ${parallelMs.toFixed(0).padStart(5)} ms`, JSON.stringify(done.value));
  console.log(`first token visible after ${(done.firstTokenAt! - done.startedAt).toFixed(0)} ms; speed-up ${(sequentialMs / parallelMs).toFixed(2)}×`);
  for (const [name, branch] of Object.entries(done.branches)) {
    const ttft = branch.firstTokenAt === undefined ? '-' : `${branch.firstTokenAt - branch.startedAt} ms`;
    const total = branch.status === 'done' ? `${branch.endedAt - branch.startedAt} ms` : '-';
    console.log(`  ${name.padEnd(10)} first token ${ttft.padStart(7)}   total ${total.padStart(7)}`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
