import { request as httpRequest } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { runWebDemo, type WebDemo } from '../../../src/cli/demo/web';
import { fromServerSentEvents } from '../../../src/transport/fromServerSentEvents';
import type { RunSnapshot } from '../../../src/cli/demo/runSnapshot';

const profiles = join(mkdtempSync(join(tmpdir(), 'rxllm-web-')), 'profiles.json');
writeFileSync(profiles, JSON.stringify({ quick: { ttftMs: 20, tokensPerSecond: 2000, jitter: 0, outputTokens: 10, faults: [] } }));

let demo: WebDemo;
const printed: string[] = [];
beforeAll(async () => {
  demo = await runWebDemo({ port: 0, seed: 2, profiles, model: 'quick', io: { stdout: { write: (s: string) => printed.push(s) }, stderr: { write: () => true }, env: {} } });
});
afterAll(() => demo.close());

const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(new URL('/api/run', demo.url), { method: 'POST', headers, body: JSON.stringify(body) });

/** A GET with a chosen Host header (fetch does not let a page set it). */
function getWithHost(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL('/api/info', demo.url), { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('runWebDemo', () => {
  it('listens on loopback, says where, and runs on the built-in simulator without a key', () => {
    expect(demo.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(printed.join('')).toContain(`open ${demo.url}`);
    expect(demo.endpoint).toBe('built-in simulator (seed 2)');
    expect(demo.simulator).toBeDefined();
  });

  it('serves the page with a policy that allows nothing from elsewhere, and the info it needs', async () => {
    const page = await fetch(demo.url);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('<title>rxllm · live pipeline</title>');
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(await (await fetch(new URL('/api/info', demo.url))).json()).toMatchObject({ model: 'quick', endpoint: 'built-in simulator (seed 2)', samples: expect.any(Array) });
  });

  it('streams a run as snapshots (readable with fromServerSentEvents), then serves its waterfall report', async () => {
    expect((await fetch(new URL('/report?mode=parallel', demo.url))).status).toBe(404);
    const snapshots = await lastValueFrom(
      fromServerSentEvents<RunSnapshot>(new URL('/api/run', demo.url), { body: { text: 'Quiet and fast.', mode: 'parallel' } }).pipe(toArray()),
    );
    expect(snapshots[0]).toMatchObject({ mode: 'parallel', status: 'waiting' });
    expect(snapshots.at(-1)).toMatchObject({ mode: 'parallel', status: 'done', value: { sentiment: expect.any(String), summary: expect.any(String) } });
    const report = await fetch(new URL('/report?mode=parallel', demo.url));
    expect(report.status).toBe(200);
    expect(await report.text()).toContain('rxllm · parallel run');
  });

  it('refuses bad runs with 400 and a message', async () => {
    for (const [body, message] of [
      [{ text: '  ', mode: 'graph' }, 'non-empty `text`'],
      [{ text: 'hi', mode: 'fastest' }, '`mode` must be one of sequential, parallel, graph'],
      [{ text: 'x'.repeat(20_001), mode: 'graph' }, 'over 20000 characters'],
    ] as const) {
      const response = await post(body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain(message);
    }
    const notJson = await post({ text: 'hi', mode: 'graph' }, { 'content-type': 'text/plain' });
    expect(notJson.status).toBe(400);
  });

  it('answers only to a loopback Host (a DNS-rebinding page cannot drive it)', async () => {
    const port = new URL(demo.url).port;
    expect(await getWithHost(`127.0.0.1:${port}`)).toBe(200);
    expect(await getWithHost(`localhost:${port}`)).toBe(200);
    expect(await getWithHost(`attacker.example:${port}`)).toBe(403);
  });

  it('rejects a bad port or seed with invalid-config', async () => {
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };
    await expect(runWebDemo({ port: 70_000, io })).rejects.toMatchObject({ code: 'invalid-config' });
    await expect(runWebDemo({ seed: 1.5, io })).rejects.toMatchObject({ code: 'invalid-config' });
  });
});
