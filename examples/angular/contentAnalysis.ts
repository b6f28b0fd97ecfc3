/**
 * The pipeline the Angular service runs: sentiment, a one-sentence summary and keywords at once,
 * then a drafted reply that needs the sentiment and the summary. Written against a `Transport`, so
 * the app passes `sseTransport({ baseURL: '/api/llm/v1' })` (its backend route, never a key in the
 * browser) and a test passes `scriptedTransport(...)` from 'rxllm/testing'.
 */
import { graph, step, type Transport } from 'rxllm';
import { z } from 'zod';
import type { AnalysisPipeline, AnalysisRecord } from './analysis.service';

type Sentiment = AnalysisRecord['sentiment'];

export function contentAnalysis(transport: Transport, model = 'gpt-4o-mini'): AnalysisPipeline {
  const ask = (content: string) => ({ model, messages: [{ role: 'user' as const, content }], max_tokens: 60 });
  const sentiment = step('sentiment', (text: string) => ask(`Classify the sentiment of this text as positive, negative or neutral:\n\n${text}`), {
    transport,
    output: z.enum(['positive', 'negative', 'neutral']),
    reasks: 1,
  });
  const summary = step('summary', (text: string) => ask(`Summarize this text in one sentence:\n\n${text}`), { transport });
  const keywords = step('keywords', (text: string) => ask(`Extract 5 keywords from this text:\n\n${text}`), {
    transport,
    output: z.array(z.string()).min(1).max(8),
    reasks: 1,
  });
  const reply = step(
    'reply',
    (input: { sentiment: Sentiment; summary: string }) =>
      ask(`Draft a two-sentence reply to a customer whose message was ${input.sentiment}. Their message, summarized: ${input.summary}`),
    { transport },
  );
  return graph<string, AnalysisRecord>({
    nodes: {
      sentiment,
      summary,
      keywords,
      // The run's context carries the graph's deadline, if the app sets one: pass it on.
      reply: { after: ['sentiment', 'summary'], run: (_text, inputs, context) => reply.run({ sentiment: inputs.sentiment, summary: inputs.summary }, context) },
    },
  });
}
