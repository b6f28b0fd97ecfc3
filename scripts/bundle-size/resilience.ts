// Consumer 3: the full resilience stack over sseTransport.
import { LatencyRegistry } from 'rxllm/metrics';
import { cache, dedupe, hedge, measure, retry, sseTransport, textSoFar, timeouts, withMiddleware } from 'rxllm';

const latency = new LatencyRegistry();
const llm = withMiddleware(
  sseTransport({ baseURL: 'http://127.0.0.1:8787/v1' }),
  dedupe(),
  cache({ ttl: 60_000 }),
  retry({ maxRetries: 2 }),
  timeouts({ firstToken: 5_000, total: 30_000 }),
  hedge({ after: 'p95', registry: latency }),
  measure({ registry: latency }),
);
llm({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] })
  .pipe(textSoFar())
  .subscribe((text) => console.log(text));
