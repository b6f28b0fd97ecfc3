import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../../../src/cli/demo/demo';
import { displayWidth } from '../../../src/cli/terminal';
import { Redis } from 'ioredis';
import { captureIo } from '../../helpers/captureIo';
import { describeWithRedis, useRedisServer } from '../../helpers/redisServer';
import { waitFor } from '../../helpers/waitFor';

// A fast simulated world (tens of ms per request) keeps the real-HTTP run short.
const profiles = join(mkdtempSync(join(tmpdir(), 'rxllm-demo-')), 'profiles.json');
// `steady` is slower: where the speed-ups are asserted, the simulated time must outweigh the CPU a loaded machine adds per request.
writeFileSync(
  profiles,
  JSON.stringify({
    quick: { ttftMs: 40, tokensPerSecond: 2000, jitter: 0, outputTokens: 20, faults: [] },
    steady: { ttftMs: 200, tokensPerSecond: 2000, jitter: 0, outputTokens: 20, faults: [] },
  }),
);


interface DemoJson {
  techniques?: { dedupeCache: { dedupe: { upstreamWith: number } } };
  summary: Record<'sequential' | 'parallel' | 'streaming' | 'graph', { meanWallMs: number; meanVisibleMs: number; speedUp: number }>;
  runs: Record<string, Array<{ wallMs: number; timeline: Array<{ name: string; start: number; end: number }>; criticalPath?: string[]; value: Record<string, unknown> }>>;
}

describe('rxllm demo', () => {
  it('runs the pipeline four ways on the simulator server and reports the speed-ups (--json)', async () => {
    const run = captureIo();
    const code = await runDemo(['--json', '--profiles', profiles, '--model', 'steady', '--seed', '3'], run.io);
    expect(run.stderr()).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(run.stdout()) as DemoJson;
    const { summary, runs } = result;

    // Three independent ~210 ms steps: sequential waits for each, parallel for the slowest.
    expect(summary.parallel.meanWallMs).toBeLessThan(summary.sequential.meanWallMs * 0.6);
    expect(summary.parallel.speedUp).toBeGreaterThan(1.6);
    // Streaming shows the first token well before the whole record is done.
    expect(summary.streaming.meanVisibleMs).toBeLessThan(summary.streaming.meanWallMs);
    expect(summary.parallel.meanVisibleMs).toBe(summary.parallel.meanWallMs);

    for (const graphRun of runs['graph']!) {
      expect(graphRun.criticalPath?.at(-1)).toBe('reply');
      const byName = Object.fromEntries(graphRun.timeline.map((row) => [row.name, row]));
      // The reply starts only once both of its inputs are final.
      expect(byName['reply']!.start).toBeGreaterThanOrEqual(Math.max(byName['sentiment']!.end, byName['summary']!.end));
      expect(['positive', 'negative', 'neutral']).toContain(graphRun.value['sentiment']);
      expect(typeof graphRun.value['reply']).toBe('string');
    }
    // The techniques part ran after the pipelines, on the same simulator (its own spec checks each section).
    expect(result.techniques?.dedupeCache.dedupe.upstreamWith).toBe(1);
    // Sequential steps never overlap.
    for (const sequentialRun of runs['sequential']!) {
      const [a, b, c] = sequentialRun.timeline;
      expect(b!.start).toBeGreaterThanOrEqual(a!.end);
      expect(c!.start).toBeGreaterThanOrEqual(b!.end);
    }
    // The techniques part sends ~1,500 requests (hedging and routing over enough to be stable): slow on a loaded machine.
  }, 120_000);

  it('prints the report with a table, waterfalls and per-step percentiles, and writes the HTML report', async () => {
    const run = captureIo();
    const html = join(mkdtempSync(join(tmpdir(), 'rxllm-report-')), 'report.html');
    expect(await runDemo(['--profiles', profiles, '--model', 'quick', '--no-techniques', '--report', html], run.io)).toBe(0);
    const report = run.stdout();
    expect(report).toContain('speed-up');
    // The graph's speed-up divides its own baseline, printed so it can be checked.
    const baseline = /\(graph: against its own four steps one after another, ([\d.]+m?s) per text\)/.exec(report);
    expect(baseline).not.toBeNull();
    // Piped: a line per mode as it finishes is the only progress there is.
    expect(report).toMatch(/^1\. sequential \(the default way\) +[\d.]+m?s for 3 texts$/m);
    expect(report).toMatch(/critical path .*reply/);
    expect(report).toContain('Text 1 analysed');
    // Not a terminal: no live line, no escape codes, and every line within the classic 80 columns.
    expect(report).not.toMatch(/[\r\u001b]/);
    expect(Math.max(...report.split('\n').map((line) => displayWidth(line)))).toBeLessThanOrEqual(80);
    // measure() ran under every step: the percentile table lists each one with its request count
    // (3 texts × 4 modes for the three branches, 3 graph runs for the reply).
    expect(report).toMatch(/sentiment\s+12\s/);
    expect(report).toMatch(/reply\s+3\s/);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('Critical path');
    expect(page).toContain('reply');
  });

  it('in a terminal: the live line is the progress, so no line per mode; the table follows the header', async () => {
    const run = captureIo({ COLUMNS: '80' });
    const io = { ...run.io, stdout: { ...run.io.stdout, isTTY: true, columns: 80 } };
    expect(await runDemo(['--profiles', profiles, '--model', 'quick', '--no-techniques'], io)).toBe(0);
    const report = run.stdout();
    expect(report).toContain('\r'); // the live line was drawn ...
    expect(report).not.toMatch(/for 3 texts/); // ... and no line per mode was left behind
    const settled = report.split('\n').map((line) => line.slice(line.lastIndexOf('\r') + 1).replace(/\u001b\[[0-9;]*[A-Za-z]/g, ''));
    const header = settled.findIndex((line) => line.startsWith('rxllm demo: 3 texts via'));
    expect(settled.slice(header + 1, header + 3)).toEqual(['', expect.stringMatching(/^mode +wall \/ text/)]);
  });

  it('honours COLUMNS when piped (waterfalls and wrapped lines fit it) and FORCE_COLOR', async () => {
    const run = captureIo({ COLUMNS: '60', FORCE_COLOR: '1' });
    expect(await runDemo(['--profiles', profiles, '--model', 'quick', '--no-techniques'], run.io)).toBe(0);
    const report = run.stdout();
    // Coloured although piped, yet still no live line: that needs a terminal to redraw it in.
    expect(report).toContain('\u001b[');
    expect(report).not.toContain('\r');
    expect(Math.max(...report.split('\n').map((line) => displayWidth(line)))).toBeLessThanOrEqual(60);
  });

  it('--web serves the page on loopback until stopped', async () => {
    const run = captureIo();
    const stop = new AbortController();
    const exited = runDemo(['--web', '--profiles', profiles, '--model', 'quick'], { ...run.io, until: stop.signal });
    const opened = () => /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(run.stdout())?.[1];
    await waitFor(() => opened() !== undefined, "the demo printing its page's address");
    const url = opened();
    expect(url).toBeDefined();
    const page = await fetch(url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<!doctype html>');
    stop.abort();
    expect(await exited).toBe(0);
    await expect(fetch(url!)).rejects.toThrow(); // closed
  });

  it('rejects a bad seed with exit code 2', async () => {
    const run = captureIo();
    expect(await runDemo(['--seed', 'abc'], run.io)).toBe(2);
    expect(run.stderr()).toContain('--seed must be an integer');
  });

  it('checks --report before the run: a missing folder or a folder as the file fails at once with exit 2', async () => {
    const missing = captureIo();
    const startedAt = Date.now();
    expect(await runDemo(['--report', '/no/such/dir/r.html'], missing.io)).toBe(2);
    expect(Date.now() - startedAt).toBeLessThan(1000); // nothing ran
    expect(missing.stderr()).toContain('--report /no/such/dir/r.html: the folder /no/such/dir does not exist');
    expect(missing.stderr()).toContain('--report FILE');
    expect(missing.stdout()).toBe('');
    const folder = captureIo();
    expect(await runDemo(['--report', tmpdir()], folder.io)).toBe(2);
    expect(folder.stderr()).toContain('is a folder');
  });

  it('--port abc and an unknown flag: our words and the one relevant line, not the whole help', async () => {
    const port = captureIo();
    expect(await runDemo(['--web', '--port', 'abc'], port.io)).toBe(2);
    expect(port.stderr()).toBe('rxllm demo: --port must be an integer 0–65535, got "abc"\n  --port N — the web page\'s port (default: a free one)\n  (rxllm help demo lists every option)\n');
    const unknown = captureIo();
    expect(await runDemo(['--bogus'], unknown.io)).toBe(2);
    expect(unknown.stderr()).toBe('rxllm demo: unknown option --bogus\n  usage: rxllm demo [options]\n  (rxllm help demo lists every option)\n');
  });

  it('a keyless OPENAI_BASE_URL where nothing listens: connection-refused in our words, exit 1, nothing printed after the header', async () => {
    const { startSimulatorServer } = await import('../../../src/node/simulatorServer');
    const gone = await startSimulatorServer({ profiles });
    await gone.close();
    const run = captureIo({ OPENAI_BASE_URL: gone.baseURL });
    expect(await runDemo(['--model', 'quick', '--no-techniques'], run.io)).toBe(1);
    expect(run.stderr()).toBe(`\nrxllm demo failed: connection-refused: nothing is listening at ${gone.baseURL}. Start the server there, or point OPENAI_BASE_URL at one that runs (unset, with no key, the built-in simulator answers).\n`);
    expect(run.stdout()).toBe(`rxllm demo: 3 texts via ${gone.baseURL}\n\n`);
  });

  it('runs on OPENAI_BASE_URL without a key (a keyless local server), not on its own simulator', async () => {
    const { startSimulatorServer } = await import('../../../src/node/simulatorServer');
    const local = await startSimulatorServer({ profiles });
    try {
      const run = captureIo({ OPENAI_BASE_URL: local.baseURL });
      expect(await runDemo(['--json', '--model', 'quick', '--no-techniques'], run.io)).toBe(0);
      expect((JSON.parse(run.stdout()) as { endpoint: string }).endpoint).toBe(local.baseURL);
      expect(local.stats().requests).toBeGreaterThan(0);
    } finally {
      await local.close();
    }
  });
});

describeWithRedis('rxllm demo with REDIS_URL (a redis-server the test started)', () => {
  const redisServer = useRedisServer();

  it('prints the scale-out section: three instances, one upstream call, and a resumed stream with the same text; Redis holds what it says', async () => {
    const redis = redisServer.server;
    const run = captureIo({ REDIS_URL: redis.url });
    expect(await runDemo(['--profiles', profiles, '--model', 'quick', '--seed', '3'], run.io)).toBe(0);
    expect(run.stderr()).toBe('');
    const report = run.stdout();
    const section = report.slice(report.indexOf('\n4. Scale-out') + 1).split('\n').slice(0, 4);
    expect(section[0]).toBe(`4. Scale-out: 3 instance processes, one Redis (REDIS_URL, 127.0.0.1:${redis.port})`);
    // The counts come from the demo's simulator (/stats), counted for each part alone.
    expect(section[1]).toBe('   the same question on all 3 at once: 1 upstream call, same text on all');
    const events = Number(/^ {3}an answer cut on A after 10 of (\d+) events, resumed on B \(Last-Event-ID: 10\):$/.exec(section[2]!)?.[1]);
    expect(events).toBeGreaterThan(10);
    expect(section[3]).toBe('   same text as uninterrupted; the model ran once (1 upstream call)');
    expect(Math.max(...report.split('\n').map((line) => displayWidth(line)))).toBeLessThanOrEqual(80);

    // What the instances wrote: one shared flight, and the resumable answer's stream, whole (every token, then
    // `done`), with the printed number of events; every key expires by itself.
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('rxllm-demo:*');
      expect(keys.filter((key) => key.includes(':flight:')).length).toBeGreaterThan(0);
      const streams = keys.filter((key) => key.includes(':resume:') && key.endsWith(':events'));
      expect(streams).toHaveLength(1);
      const entries = await client.xrange(streams[0]!, '-', '+');
      expect(entries.map(([, fields]) => fields[1])).toEqual([...Array.from({ length: events }, () => ''), 'done']);
      for (const key of keys) expect(await client.pttl(key)).toBeGreaterThan(0);
    } finally {
      client.disconnect();
    }
  }, 400_000);
});
