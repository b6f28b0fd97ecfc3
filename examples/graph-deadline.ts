/**
 * A dependency graph with a deadline for the whole run. `sentiment` and `summary` start at once;
 * `reply` starts when both are done and passes the run's context on to its step, so its request
 * carries what remains of the deadline (what `timeouts()` and `retry()` honour). A small
 * middleware prints, for each request, the step and the time it had left when it was sent.
 *
 * The second run has a deadline too short for the reply: the graph cancels it at the deadline and
 * errors with a `timeout` naming the node, rather than waiting for an answer nobody can use.
 *
 *   npx ts-node examples/graph-deadline.ts
 */
import { asyncScheduler, last, lastValueFrom } from 'rxjs';
import { z } from 'zod';
import { graph, isRxllmError, step, stepOf, timeLeft, withMiddleware, type Middleware, type Transport } from 'rxllm';
import { simulatedTransport } from 'rxllm/simulator';

const model = 'gpt-4o-mini';
type Label = 'positive' | 'negative' | 'neutral';
type Analysis = { sentiment: Label; summary: string; reply: string };

/** Prints each request's step and the time left before the run's deadline; forwards the context. */
const showTimeLeft: Middleware = (next) => (request, context) => {
  // The deadline is absolute, on the scheduler's clock (asyncScheduler unless the pipeline was given another).
  const left = timeLeft(context, asyncScheduler);
  console.log(`  ${stepOf(request, context).padEnd(10)} sent with ${left === Infinity ? 'no deadline' : `${left.toFixed(0)} ms left`}`);
  return next(request, context);
};

/** The support-ticket graph: sentiment and summary at once, then a reply that needs both. */
export function ticketGraph(transport: Transport, deadline: number) {
  const sentiment = step(
    'sentiment',
    (text: string) => ({ model, messages: [{ role: 'user', content: `Classify the sentiment of this text as positive, negative or neutral:\n\n${text}` }] }),
    { transport, output: z.enum(['positive', 'negative', 'neutral']), reasks: 1 },
  );
  const summary = step('summary', (text: string) => ({ model, messages: [{ role: 'user', content: `Summarize this text in one sentence:\n\n${text}` }] }), {
    transport,
  });
  const reply = step(
    'reply',
    (input: { sentiment: Label; summary: string }) => ({
      model,
      messages: [{ role: 'user', content: `Draft a 2-sentence reply to a customer whose message was ${input.sentiment}: ${input.summary}` }],
    }),
    { transport },
  );
  return graph<string, Analysis>({
    nodes: {
      sentiment,
      summary,
      // The third argument is the run's context: passing it on is what gives the reply's request the deadline.
      reply: { after: ['sentiment', 'summary'], run: (_, inputs, context) => reply.run(inputs, context) },
    },
    deadline,
  });
}

const ticket = `I ordered the blue kettle two weeks ago and it still has not shipped. Support has not answered
my two emails. Please either ship it this week or refund me.`;

async function main(): Promise<void> {
  const transport = withMiddleware(simulatedTransport({ seed: 3 }), showTimeLeft);

  console.log('deadline 10 s:');
  const done = await lastValueFrom(ticketGraph(transport, 10_000).run(ticket).pipe(last()));
  if (done.status !== 'done') throw new Error('a fail-fast graph ends done or errors');
  console.log(`  done in ${(done.endedAt - done.startedAt).toFixed(0)} ms; critical path ${done.criticalPath.join(' → ')}`);
  console.log(`  reply: ${done.value.reply}`);

  console.log('deadline 1.2 s:');
  try {
    await lastValueFrom(ticketGraph(transport, 1_200).value(ticket));
    console.log('  finished in time (a fast draw of the simulator)');
  } catch (error) {
    if (!isRxllmError(error) || error.code !== 'timeout') throw error;
    console.log(`  ${error.code} in node "${error.step}": ${error.message.split(' (deadline')[0]}`);
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
