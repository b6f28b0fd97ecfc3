// Load control against the built-in simulator server: 40 background classifications and a few
// interactive questions share 6 upstream slots. batch() packs the background work under load;
// limit() keeps interactive requests ahead in the queue and reserves 2 slots that background work
// may never take, so an interactive question does not wait for a background request to finish.
// Then the same 40 reviews are embedded by 40 independent callers: batchEmbeddings() packs them into a few
// /v1/embeddings requests and hands each caller its own vector.
// Run: npx ts-node examples/load-control.ts
import { forkJoin, lastValueFrom } from 'rxjs';
import { batch, batchEmbeddings, embeddingsClient, limit, sseTransport, text, withMiddleware } from 'rxllm';
import { startSimulatorServer } from 'rxllm/node';

async function main(): Promise<void> {
  const server = await startSimulatorServer({ seed: 1 });
  try {
    const limiter = limit({ concurrency: 6, maxQueued: 500, reserve: { interactive: 2 } });
    const batcher = batch({ threshold: 4, maxBatchSize: 8, load: () => limiter.stats().queued });
    // batch() above limit(): a packed request takes one slot. Both read the lane from the context; it is never sent.
    const llm = withMiddleware(sseTransport({ baseURL: server.baseURL }), batcher, limiter);

    const classify = (review: string) =>
      llm(
        {
          model: 'gpt-4o-mini',
          temperature: 0,
          messages: [
            { role: 'system', content: 'Classify the sentiment as positive or negative.' },
            { role: 'user', content: review },
          ],
        },
        { lane: 'background' },
      ).pipe(text());
    const ask = (question: string) => llm({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }).pipe(text());

    const reviews = Array.from({ length: 40 }, (_, i) => `Review ${i}: ${i % 3 ? 'Love it' : 'Broke in a day'}`);
    const [labels, answers] = await lastValueFrom(
      forkJoin([forkJoin(reviews.map(classify)), forkJoin(['Summarize: rxjs', 'Summarize: zod'].map(ask))]),
    );
    console.log(`${labels.length} labels, ${answers.length} answers`);
    console.log('upstream requests:', server.stats().requests, '(instead of', reviews.length + answers.length, ')');
    console.log('batch:', batcher.stats());
    const { background, interactive } = limiter.stats().lanes;
    console.log('queue wait p95 (ms):', background?.wait?.p95, 'background,', interactive?.wait?.p95, 'interactive');
    console.log('peak in flight:', background?.peakInFlight, `background (of ${background?.slots} slots it may use),`, interactive?.peakInFlight, 'interactive');

    const embed = batchEmbeddings(embeddingsClient({ baseURL: server.baseURL }), { maxBatchSize: 16 });
    server.resetStats();
    const vectors = await lastValueFrom(forkJoin(reviews.map((review) => embed(review, 'text-embedding-3-small'))));
    console.log(`${vectors.length} vectors of ${vectors[0]?.length} numbers from ${server.stats().requests} embeddings requests:`, embed.stats());
  } finally {
    await server.close();
  }
}

void main();
