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
 *
 * In an app: import { fromServerSentEvents, ... } from 'rxllm' and { toServerSentEvents } from 'rxllm/node'.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { filter, lastValueFrom, map, tap } from 'rxjs';
import { contentAnalysisPipeline, SAMPLE_TEXTS } from '../src/cli/demo/pipeline';
import { startSimulatorServer } from '../src/node/simulatorServer';
import { toServerSentEvents } from '../src/node/toServerSentEvents';
import type { ParallelState } from '../src/pipeline/parallel';
import { fromServerSentEvents } from '../src/transport/fromServerSentEvents';
import { sseTransport } from '../src/transport/sse';

type Snapshot = ParallelState<ReturnType<typeof contentAnalysisPipeline>['steps']>;

async function readJson(req: IncomingMessage): Promise<{ text?: unknown }> {
  const parts: Buffer[] = [];
  for await (const part of req as AsyncIterable<Buffer>) parts.push(part);
  return JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as { text?: unknown };
}

async function main(serve: boolean): Promise<void> {
  // The model: the built-in simulator over real HTTP (use sseTransport({ baseURL, apiKey }) for OpenAI).
  const simulator = await startSimulatorServer({ seed: 7 });
  const pipeline = contentAnalysisPipeline(() => sseTransport({ baseURL: simulator.baseURL }), 'gpt-4o-mini');

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
        toServerSentEvents(pipeline.all.run(text), res, { whenSlow: 'latest' });
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
    fromServerSentEvents<Snapshot>(url, { body: { text: SAMPLE_TEXTS[0] } }).pipe(
      tap((snapshot) => {
        const summary = snapshot.branches.summary;
        if (summary.status === 'streaming') process.stdout.write(`\r  summary so far: ${summary.textSoFar.slice(0, 70)}`);
      }),
      filter((snapshot) => snapshot.status === 'done'),
      map((snapshot) => snapshot as Extract<Snapshot, { status: 'done' }>),
    ),
  );
  console.log(`\n  done in ${done.endedAt - done.startedAt} ms:`, JSON.stringify(done.value));
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
