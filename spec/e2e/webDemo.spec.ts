/*
 * `rxllm demo --web` end to end in real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the page streams text token by token, shows the right final record, and
 * closing it aborts the upstream requests. Without /usr/bin/chromium the suite is skipped on a
 * developer machine and fails in CI (CI=true): install it with .ci/install-browser.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { lastValueFrom } from 'rxjs';
import { contentAnalysisPipeline } from '../../src/cli/demo/pipeline';
import { runWebDemo, type WebDemo } from '../../src/cli/demo/web';
import { sseTransport } from '../../src/transport/sse';
import { waitFor } from '../helpers/waitFor';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const haveChromium = existsSync(CHROMIUM);
const inCi = Boolean(process.env['CI']);
if (!haveChromium && !inCi) {
  console.warn(`spec/e2e/webDemo.spec.ts skipped: ${CHROMIUM} is missing. Install it (.ci/install-browser, or apt-get install chromium) to run the browser tests.`);
}
const describeInBrowser = haveChromium || inCi ? describe : describe.skip;

// Steady, fault-free latency: 150 ms to the first token, then 40 tokens/s, so an answer streams
// for most of a second (many snapshots to watch) and a whole run takes a few seconds.
const profiles = join(mkdtempSync(join(tmpdir(), 'rxllm-e2e-')), 'profiles.json');
writeFileSync(profiles, JSON.stringify({ e2e: { ttftMs: 150, tokensPerSecond: 40, jitter: 0, outputTokens: 24, faults: [] } }));
const MODEL = 'e2e';
const TEXT = 'The delivery was two days late and the box arrived damaged, but the support team apologised and refunded the shipping within an hour.';
const quiet = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };

describeInBrowser('rxllm demo --web in Chromium', () => {
  let demo: WebDemo;
  let browser: Browser;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`CI=true and ${CHROMIUM} is missing: run .ci/install-browser before the tests.`);
    demo = await runWebDemo({ port: 0, seed: 5, profiles, model: MODEL, io: quiet });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  async function openPage(): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await browser.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(demo.url);
    await page.waitForSelector('#samples .chip');
    return { page, requests, errors };
  }

  it('streams each branch token by token and ends with the right record; sequential vs parallel side by side', async () => {
    const { page, requests, errors } = await openPage();
    await page.fill('#text', TEXT);
    // Record every text the summary card shows, as the DOM changes. (Browser code: passed as a
    // string, since the spec compiles for Node, without DOM types.)
    await page.evaluate(`
      window.summaryHistory = [];
      const card = document.querySelector('[data-node="summary"]');
      new MutationObserver(() => {
        const text = card.querySelector('.card-text')?.textContent ?? '';
        if (text !== window.summaryHistory[window.summaryHistory.length - 1]) window.summaryHistory.push(text);
      }).observe(card, { subtree: true, childList: true, characterData: true });
    `);
    await page.click('#run');
    for (const section of ['#graph', '.lane[data-mode="sequential"]', '.lane[data-mode="parallel"]']) {
      await page.waitForSelector(`${section}[data-status="done"]`, { timeout: 20_000 });
    }

    const expected = await lastValueFrom(contentAnalysisPipeline(() => sseTransport({ baseURL: demo.simulator!.baseURL }), MODEL).withReply.value(TEXT));
    const record = JSON.parse((await page.textContent('#record')) ?? '') as unknown;
    expect(record).toEqual(expected);

    // Token by token: the text grew through several visible states, each extending the last.
    const history = (await page.evaluate<string[]>('window.summaryHistory')).filter((text) => text !== '');
    expect(history.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < history.length; i++) expect(history[i]!.startsWith(history[i - 1]!)).toBe(true);
    expect(history.at(-1)).toBe(expected.summary);

    expect(await page.textContent('[data-node="sentiment"] .pill')).toBe(expected.sentiment);
    expect(await page.locator('[data-node="keywords"] .keywords li').allTextContents()).toEqual(expected.keywords);
    expect(await page.textContent('[data-node="reply"] .card-text')).toBe(expected.reply);
    expect(await page.textContent('#graph [data-facts]')).toContain('critical path');

    // The race: parallel beats one-after-another, and the page says by how much.
    const clocks = await page.locator('.lane [data-clock]').allTextContents();
    const [sequentialSeconds, parallelSeconds] = clocks.map((text) => Number.parseFloat(text));
    expect(parallelSeconds).toBeLessThan(sequentialSeconds! * 0.75);
    expect(await page.isVisible('#verdict')).toBe(true);
    expect(await page.textContent('#verdict')).toMatch(/\d\.\d× faster/);

    // Offline by construction: every request went to the demo server, and nothing failed.
    expect(requests.filter((url) => !url.startsWith(demo.url))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('closing the page mid-run aborts the upstream requests (the simulator counts the aborts)', async () => {
    const simulator = demo.simulator!;
    await waitFor(() => simulator.stats().inFlight === 0, "the simulator idle after the previous test's requests");
    const { page } = await openPage();
    await page.fill('#text', TEXT);
    simulator.resetStats();
    await page.click('#run');
    await page.waitForSelector('[data-node="summary"][data-status="streaming"]');
    expect(simulator.stats().inFlight).toBeGreaterThan(0);

    await page.close();
    await waitFor(() => simulator.stats().inFlight === 0 && simulator.stats().aborts > 0, 'the simulator counting the aborts of the closed page, nothing left in flight');
    const stats = simulator.stats();
    expect(stats.inFlight).toBe(0);
    expect(stats.aborts).toBeGreaterThan(0);
    // Nothing kept running to completion after the page left: every request is accounted for.
    expect(stats.completed + stats.aborts + stats.failed).toBe(stats.requests);
  });
});
