/*
 * A resumable answer in real headless Chromium (Debian's `chromium`, driven by playwright-core), with the
 * browser's own EventSource: two app instances share a real redis-server through redisResumeStore; a
 * same-origin router serves the page and sends the first /answers connection to instance A and every later
 * one to instance B. A destroys the socket mid-answer; the browser reconnects by itself with Last-Event-ID,
 * lands on B, which reads the rest from Redis; the text on the page equals the uninterrupted text, and the
 * model ran once. Without /usr/bin/chromium (or redis-server) the suite is skipped on a developer machine and
 * fails in CI (CI=true).
 */
import { existsSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { redisResumeStore } from '../../src/redis/redisResumeStore';
import { redisServerBinary, useRedisServer } from '../helpers/redisServer';
import { ANSWER_TEXT, type ResumableApp, startResumableApp } from '../helpers/resumableApp';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const haveChromium = existsSync(CHROMIUM);
const haveRedis = redisServerBinary() !== undefined;
const inCi = Boolean(process.env['CI']);
if ((!haveChromium || !haveRedis) && !inCi) {
  console.warn(`spec/e2e/resumableStream.spec.ts skipped: ${haveChromium ? 'redis-server' : CHROMIUM} is missing (.ci/install-browser, .ci/install-redis).`);
}
const describeInBrowser = (haveChromium && haveRedis) || inCi ? describe : describe.skip;

/** The page: an EventSource that appends each token to #text and closes on `done` (else it would reconnect). */
const PAGE = `<!doctype html><meta charset="utf-8"><title>resumable</title>
<p id="text"></p><p id="status">streaming</p>
<script>
  const text = document.getElementById('text');
  const status = document.getElementById('status');
  window.opened = 0;
  const source = new EventSource('/answers/e2e-answer');
  source.onopen = () => { window.opened++; };
  source.onmessage = (event) => { text.textContent += JSON.parse(event.data).text; };
  source.addEventListener('done', () => { source.close(); status.textContent = 'done'; });
  source.addEventListener('error', (event) => { if (event.data) { source.close(); status.textContent = 'error ' + event.data; } });
</script>`;

/**
 * The load balancer: serves the page, and proxies /answers/… to `first` for the first connection and to
 * `then` after it. A connection the instance drops is dropped toward the browser too.
 */
async function startRouter(first: ResumableApp, then: ResumableApp): Promise<{ url: string; routed: string[]; close(): Promise<void> }> {
  const routed: string[] = [];
  const server: Server = createServer((req, res) => {
    if (!req.url?.startsWith('/answers/')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      return;
    }
    const target = new URL(routed.length === 0 ? first.url : then.url);
    routed.push(target.port);
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      answer.on('data', (part: Buffer) => res.write(part));
      answer.on('end', () => res.end());
      // The instance dropped the connection mid-body: so does the router, as a load balancer would.
      answer.on('aborted', () => res.destroy());
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    req.on('close', () => {
      if (!res.writableEnded) upstream.destroy();
    });
    upstream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    routed,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describeInBrowser('a resumable stream in Chromium: EventSource reconnects to another instance', () => {
  let browser: Browser;
  const closing: (() => Promise<void>)[] = [];

  beforeAll(() => {
    if (!haveChromium || !haveRedis) throw new Error(`CI=true and ${haveChromium ? 'redis-server' : CHROMIUM} is missing: run .ci/install-browser and .ci/install-redis before the tests.`);
  });
  const redisServer = useRedisServer();
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  redisServer.onClose(async () => {
    await browser?.close();
    for (const close of closing) await close();
  });

  it('A destroys the socket mid-answer, the browser reconnects with Last-Event-ID to B, and the page shows the uninterrupted text', async () => {
    const instance = async (dropAfter?: number) => {
      const redis = redisServer.client();
      const store = redisResumeStore({ redis, prefix: 'e2e:resume:' });
      // retry: 200 ms, so the browser reconnects quickly (its own default is seconds).
      const app = await startResumableApp({ store, tokenMs: 40, retryMs: 200, ...(dropAfter === undefined ? {} : { dropAfter }) });
      closing.push(() => app.close());
      return app;
    };
    const a = await instance(6);
    const b = await instance();
    const router = await startRouter(a, b);
    closing.push(() => router.close());

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(router.url);
    await page.waitForFunction('document.getElementById("status").textContent !== "streaming"', undefined, { timeout: 20_000 });

    expect(await page.textContent('#status')).toBe('done');
    expect(await page.textContent('#text')).toBe(ANSWER_TEXT);
    expect(await page.evaluate('window.opened')).toBe(2); // the first connection, and the one reconnect
    expect(router.routed).toEqual([new URL(a.url).port, new URL(b.url).port]);
    expect(a.lastEventIds).toEqual([undefined]);
    // The browser's own Last-Event-ID header: the last event that reached it before the drop (A wrote 6; the
    // last may die with the socket). Whatever it was, the text above has no repeat and no gap.
    expect(b.lastEventIds).toHaveLength(1);
    expect(Number(b.lastEventIds[0])).toBeGreaterThanOrEqual(1);
    expect(Number(b.lastEventIds[0])).toBeLessThanOrEqual(6);
    expect([a.runs, b.runs]).toEqual([1, 0]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
