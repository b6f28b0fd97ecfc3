// A child process that serves one fixed OpenAI-style stream of N tokens as fast as the socket takes it,
// so the parent's CPU time measures the client alone. Prints its port on stdout.
import { createServer } from 'node:http';

const tokens = Number(process.argv[2] ?? 2000);
const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'bench', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
const parts: string[] = [chunk({ role: 'assistant', content: '' })];
for (let i = 0; i < tokens; i++) parts.push(chunk({ content: ` ${words[i % words.length]}` }));
parts.push(chunk({}, 'stop'));
parts.push(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 0, model: 'bench', choices: [], usage: { prompt_tokens: 5, completion_tokens: tokens, total_tokens: tokens + 5 } })}\n\n`);
parts.push('data: [DONE]\n\n');
// Sent in 64 KiB writes, like a real server flushing a busy stream.
const body = Buffer.from(parts.join(''));
const pieces: Buffer[] = [];
for (let at = 0; at < body.length; at += 65536) pieces.push(body.subarray(at, at + 65536));

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const piece of pieces) res.write(piece);
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
