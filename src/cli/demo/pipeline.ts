import * as s from '../../internal/check.js';
import type { Transport } from '../../core/transport.js';
import { graph } from '../../pipeline/graph.js';
import { parallel } from '../../pipeline/parallel.js';
import { step } from '../../pipeline/step.js';

/** The demo's sample inputs: short product reviews. */
export const SAMPLE_TEXTS: readonly string[] = [
  'The new laptop is fast and the battery easily lasts a full working day, though the speakers sound thin and the fan gets loud under load.',
  'Customer support kept me on hold for an hour, then closed my ticket without fixing the billing error. I am cancelling my subscription.',
  'The conference was well organised: clear schedule, good coffee, and talks on streaming pipelines that were practical and easy to follow.',
];

export type Sentiment = 'positive' | 'negative' | 'neutral';

/**
 * The article's content-analysis pipeline: sentiment, a one-sentence summary
 * and five keywords (independent), and a drafted reply that needs the sentiment
 * and the summary. `transportFor` gives each step its transport (the demo gives
 * every step the same one, with one `measure()`: step() names the step in the
 * request context, so percentiles are still per step).
 */
export function contentAnalysisPipeline(transportFor: (step: string) => Transport, model: string) {
  const ask = (content: string) => ({ model, messages: [{ role: 'user' as const, content }], max_tokens: 60 });
  const sentiment = step('sentiment', (text: string) => ask(`Classify the sentiment of this text as positive, negative or neutral:\n\n${text}`), {
    transport: transportFor('sentiment'),
    // rxllm's own schemas (the CLI must not need zod) give no JSON Schema: the step is told it.
    output: s.oneOf(['positive', 'negative', 'neutral']),
    jsonSchema: { type: 'string', enum: ['positive', 'negative', 'neutral'] },
    reasks: 1,
  });
  const summary = step('summary', (text: string) => ask(`Summarize this text in one sentence:\n\n${text}`), {
    transport: transportFor('summary'),
  });
  const keywords = step('keywords', (text: string) => ask(`Extract 5 keywords from this text:\n\n${text}`), {
    transport: transportFor('keywords'),
    output: s.array(s.string()).min(1).max(8),
    jsonSchema: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 8 },
    reasks: 1,
  });
  const reply = step(
    'reply',
    (input: { sentiment: Sentiment; summary: string }) =>
      ask(`Draft a two-sentence reply to a customer whose message was ${input.sentiment}. Their message, summarized: ${input.summary}`),
    { transport: transportFor('reply') },
  );

  const steps = { sentiment, summary, keywords };
  const withReply = graph<string, { sentiment: Sentiment; summary: string; keywords: string[]; reply: string }>({
    nodes: {
      sentiment,
      summary,
      keywords,
      reply: { after: ['sentiment', 'summary'], run: (_text, inputs) => reply.run({ sentiment: inputs.sentiment!, summary: inputs.summary! }) },
    },
  });
  return { steps, all: parallel(steps), withReply };
}
