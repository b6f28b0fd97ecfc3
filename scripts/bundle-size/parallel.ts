// Consumer 2: the 20-line parallel() pipeline of issue 15 (three steps, one with a zod schema).
import { lastValueFrom } from 'rxjs';
import { parallel, sseTransport, step } from 'rxllm';
import { z } from 'zod';

const transport = sseTransport({ baseURL: 'http://127.0.0.1:8787/v1' });
const ask = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }] });

const sentiment = step('sentiment', (text: string) => ask(`Sentiment of: ${text}`), {
  transport,
  output: z.enum(['positive', 'negative', 'neutral']),
});
const summary = step('summary', (text: string) => ask(`Summarize: ${text}`), { transport });
const keywords = step('keywords', (text: string) => ask(`Keywords of: ${text}`), {
  transport,
  output: z.object({ keywords: z.array(z.string()) }),
});

const analysis = parallel({ sentiment, summary, keywords });
lastValueFrom(analysis.value('rxllm makes the fast path the easy one')).then((result) => console.log(result));
