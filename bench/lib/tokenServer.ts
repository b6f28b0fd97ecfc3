// A child process that serves one OpenAI-style stream of N tokens as fast as the socket takes it,
// so the parent's CPU time measures the client alone. Prints its port on stdout.
//
// Shaped like a real server (and like the peers' harness's mock server): full chunk objects (id,
// created, model, service_tier, system_fingerprint, logprobs, usage: null), one write per chunk
// (the socket coalesces them into reads of its own sizes), a usage chunk, then [DONE]. The answer
// is `max_tokens` tokens long when the request sets it, else N.
import { createServer } from 'node:http';

const defaultTokens = Number(process.argv[2] ?? 2000);
const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
const base = { id: 'chatcmpl-bench1', object: 'chat.completion.chunk', created: 1796220984, model: 'bench', service_tier: 'default', system_fingerprint: null };
const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;

function answer(tokens: number): string[] {
  const parts: string[] = [chunk({ role: 'assistant', content: '' })];
  for (let i = 0; i < tokens; i++) parts.push(chunk({ content: ` ${words[i % words.length]}` }));
  parts.push(chunk({}, 'stop'));
  parts.push(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: tokens, total_tokens: tokens + 5 } })}\n\n`);
  parts.push('data: [DONE]\n\n');
  return parts;
}
const cached = new Map<number, string[]>();

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (data: string) => (body += data));
  req.on('end', () => {
    let tokens = defaultTokens;
    try {
      const maxTokens = (JSON.parse(body) as { max_tokens?: unknown }).max_tokens;
      if (typeof maxTokens === 'number') tokens = maxTokens;
    } catch {
      // not JSON: the default length
    }
    let parts = cached.get(tokens);
    if (!parts) cached.set(tokens, (parts = answer(tokens)));
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    for (const part of parts) res.write(part);
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`${address.port}\n`);
});
process.on('disconnect', () => server.close());
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
