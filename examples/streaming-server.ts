/**
 * Streaming a pipeline to browsers: a plain `node:http` server whose `POST /analyse` runs the
 * content-analysis pipeline and streams its snapshots as Server-Sent Events
 * (`toServerSentEvents`), and a client reading them with `fromServerSentEvents`, the way a web
 * page (or an Angular service) would. When the client goes away, the server's subscription ends
 * and every model request under it is aborted.
 *
 *   npx ts-node examples/streaming-server.ts          # run the client once against the server, then exit
 *   npx ts-node examples/streaming-server.ts --serve  # keep serving; try: curl -N -H 'content-type: application/json' \
 *                                                     #   -d '{"text":"The battery lasts all day."}' http://127.0.0.1:8788/analyse
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { filter, lastValueFrom, map, tap } from 'rxjs';
import { fromServerSentEvents, parallel, sseTransport, step, type ParallelState, type Transport } from 'rxllm';
import { startSimulatorServer, toServerSentEvents } from 'rxllm/node';
import { z } from 'zod';

const model = 'gpt-4o-mini';

/** The content-analysis steps: three independent questions about one text. */
function contentAnalysis(transport: Transport) {
  const ask = (prompt: string) => (text: string) => ({ model, messages: [{ role: 'user' as const, content: `${prompt}\n\n${text}` }] });
  return {
    sentiment: step('sentiment', ask('Classify the sentiment of this text as positive, negative or neutral:'), {
      transport,
      output: z.enum(['positive', 'negative', 'neutral']),
      reasks: 1,
    }),
    summary: step('summary', ask('Summarize this text in one sentence:'), { transport }),
    keywords: step('keywords', ask('List five keywords for this text:'), { transport, output: z.array(z.string()).length(5), reasks: 1 }),
  };
}

/** What the server streams: the parallel run's snapshot, every branch's progress in one value. */
type Snapshot = ParallelState<ReturnType<typeof contentAnalysis>>;

const review = 'The battery lasts all day and the screen is bright, but the case scratches easily and support never replied.';

async function readJson(req: IncomingMessage): Promise<{ text?: unknown }> {
  const parts: Buffer[] = [];
  for await (const part of req as AsyncIterable<Buffer>) parts.push(part);
  return JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as { text?: unknown };
}

/**
 * Redraws one line in place (`\r`, then erase to the end of the line), cut to the terminal's width
 * with an ellipsis. A line longer than the terminal would wrap, and `\r` returns only to the start
 * of its last row: every redraw would leave a copy behind. One column is kept free so the cursor
 * never wraps either. Counts characters, right for this example's English text (the rxllm CLI's
 * own renderer counts display columns, for wide characters and emoji).
 */
function liveLine(text: string): void {
  const width = Math.max(10, (process.stdout.columns || 80) - 1);
  const flat = text.replace(/\s+/g, ' ');
  process.stdout.write(`\r\x1b[K${flat.length > width ? `${flat.slice(0, width - 1)}…` : flat}`);
}

async function main(serve: boolean): Promise<void> {
  // The model: the built-in simulator over real HTTP (use sseTransport({ baseURL, apiKey }) for OpenAI).
  const simulator = await startSimulatorServer({ seed: 7 });
  const pipeline = parallel(contentAnalysis(sseTransport({ baseURL: simulator.baseURL })));

  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/analyse') {
      res.writeHead(404).end();
      return;
    }
    readJson(req).then(
      ({ text }) => {
        if (typeof text !== 'string' || !text.trim()) {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"message":"send {\\"text\\": \\"...\\"}"}}');
          return;
        }
        // Each snapshot replaces the last, so a slow client gets the newest rather than a backlog.
        toServerSentEvents(pipeline.run(text), res, { whenSlow: 'latest' });
      },
      () => res.writeHead(400).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(serve ? 8788 : 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/analyse`;
  console.log(`POST ${url} streams the analysis as Server-Sent Events`);
  if (serve) return;

  // The client side: what a browser runs (fetch + eventsource-parser), here in Node.
  const done = await lastValueFrom(
    fromServerSentEvents<Snapshot>(url, { body: { text: review } }).pipe(
      tap((snapshot) => {
        const summary = snapshot.branches.summary;
        // A terminal shows the summary growing in place; piped output gets only the final record.
        if (summary.status === 'streaming' && process.stdout.isTTY) liveLine(`  summary so far: ${summary.textSoFar}`);
      }),
      filter((snapshot) => snapshot.status === 'done'),
      map((snapshot) => snapshot as Extract<Snapshot, { status: 'done' }>),
    ),
  );
  if (process.stdout.isTTY) liveLine('');
  console.log(`  done in ${done.endedAt - done.startedAt} ms:`, JSON.stringify(done.value));
  console.log('  simulator:', simulator.stats());

  server.close();
  await simulator.close();
}

if (require.main === module) {
  main(process.argv.includes('--serve')).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
