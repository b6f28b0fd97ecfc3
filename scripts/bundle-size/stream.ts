// Consumer 1: stream one answer's tokens to the console.
import { sseTransport, tokens } from 'rxllm';

const llm = sseTransport({ baseURL: 'http://127.0.0.1:8787/v1' });
llm({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] })
  .pipe(tokens())
  .subscribe((token) => console.log(token));
