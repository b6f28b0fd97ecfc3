import { runTechniques, type HedgingRoutingReport, type TechniquesReport } from '../../../src/cli/demo/techniques';
import type { LlmRequest } from '../../../src/core/request';
import type { Transport } from '../../../src/core/transport';
import { startSimulatorServer, type SimulatorServer } from '../../../src/node/simulatorServer';
import { sseTransport } from '../../../src/transport/sse';

// The sections bring their own short simulated profiles; `quick` is what the real-endpoint run (no overrides) gets.
const profiles = { quick: { ttftMs: 40, tokensPerSecond: 2000, jitter: 0, outputTokens: 20, faults: [] } };

describe('rxllm demo: the techniques part', () => {
  let server: SimulatorServer;
  beforeAll(async () => {
    server = await startSimulatorServer({ seed: 3, profiles });
  });
  afterAll(() => server.close());

  describe('on the simulator', () => {
    const lines: string[] = [];
    let report: TechniquesReport;
    beforeAll(async () => {
      report = await runTechniques({ transport: sseTransport({ baseURL: server.baseURL }), server, model: 'quick', seed: 3, log: (line) => lines.push(line) });
    }, 90_000);

    it('de-dup: identical concurrent requests reach the server once with dedupe(), N times without', () => {
      const { dedupe } = report.dedupeCache;
      expect(report.dedupeCache.countedBy).toBe("the simulator's /stats");
      expect(dedupe.upstreamWithout).toBe(dedupe.identicalRequests);
      expect(dedupe.identicalRequests).toBeGreaterThan(1);
      expect(dedupe.upstreamWith).toBe(1);
      expect(lines.join('\n')).toContain(`${dedupe.identicalRequests} upstream calls without dedupe(), 1 with it`);
    });

    it('cache and prefetch: a hit and a prefetched follow-up answer far sooner than a call to the model', () => {
      const { cache, prefetch } = report.dedupeCache;
      expect(cache).toMatchObject({ hits: 1, misses: 1, sameText: true });
      // The simulated call takes 120 ms to its first token; the hit replays from memory.
      expect(cache.missMs).toBeGreaterThanOrEqual(120);
      expect(cache.hitMs).toBeLessThan(cache.missMs / 4);
      expect(prefetch.hits).toBe(1);
      expect(prefetch.coldMs).toBeGreaterThanOrEqual(120);
      expect(prefetch.takenMs).toBeLessThan(prefetch.coldMs / 4);
      expect(prefetch.savedMs).toBeGreaterThan(0);
    });

    it('hedging: backups were sent within the budget, and every race cancelled its loser on the server', () => {
      const { hedging } = report.hedgingRouting as HedgingRoutingReport;
      expect(hedging.hedges).toBeGreaterThan(0);
      // Every backup is one more upstream call; every backup race cancels its loser, and the server saw the aborts.
      expect(hedging.extraRequests).toBe(hedging.hedges);
      expect(hedging.cancelled).toBeGreaterThan(0);
      expect(hedging.serverAborts).toBeGreaterThan(0);
      expect(hedging.extraRequests).toBeLessThanOrEqual(hedging.requests * 0.2 + 10);
      // How much the tail shrinks is timing, which a loaded CI machine blurs; hedge.spec.ts proves it in virtual time.
      // The spread: each of the three slices of 200 has its own p95 and p99; the whole run's lie within them.
      for (const run of [hedging.without, hedging.with]) {
        expect(run.slices.sliceSize).toBe(200);
        expect(run.slices.p99[0]).toBeLessThanOrEqual(run.slices.p99[1]);
        expect(run.p99).toBeGreaterThanOrEqual(run.slices.p99[0]);
        expect(run.p99).toBeLessThanOrEqual(run.slices.p99[1]);
      }
      expect(hedging.requests).toBe(600);
      expect(lines.join('\n')).toMatch(/p99 \d+ms → \d+ms \([\d.]+× lower\); in 3 slices of 200: \d+(–\d+)?ms → \d+(–\d+)?ms/);
    });

    it('routing: route() learned which deployment is faster and sent it most of the traffic', () => {
      const { routing } = report.hedgingRouting as HedgingRoutingReport;
      const decided = Object.values(routing.byCandidate).reduce((sum, count) => sum + count, 0);
      expect(decided).toBe(routing.requests);
      expect(routing.faster).toBe('gpt-4o-mini@eastus');
      expect(routing.byCandidate['gpt-4o-mini@eastus']).toBeGreaterThan(routing.byCandidate['gpt-4o-mini@westeurope']!);
      expect(routing.afterLearning.requests).toBeGreaterThan(0);
      expect(routing.afterLearning.share).toBeGreaterThan(0.5);
      const [low, high] = routing.slices.share;
      expect(low).toBeLessThanOrEqual(routing.afterLearning.share);
      expect(high).toBeGreaterThanOrEqual(routing.afterLearning.share);
      expect(lines.join('\n')).toMatch(/to the faster: \d+% \(\d+–\d+% per 50\)/);
    });

    it('load control: batch() sent fewer upstream calls than requests, each accounted for', () => {
      const load = report.loadControl;
      expect(load.batch.batches).toBeGreaterThan(0);
      expect(load.upstream).toBeLessThan(load.background + load.interactive);
      // What the server counted is exactly the packed requests, the ones sent alone, and the interactive ones.
      expect(load.upstream).toBe(load.batch.batches + load.batch.sentAlone + load.interactive);
      expect(load.batch.batchedItems + load.batch.sentAlone - load.batch.fallbacks).toBe(load.background);
    });

    it('prints a few lines per section, and its report is plain JSON', () => {
      const text = lines.join('\n');
      expect(text).toMatch(/1\. De-dup and cache/);
      expect(text).toMatch(/without hedge\(\)/);
      expect(text).toMatch(/gpt-4o-mini@eastus\s+\d+ requests/);
      expect(text).toMatch(/3\. Load control/);
      // No env given: no REDIS_URL and no PATH to find redis-server on, so the scale-out section is one line.
      expect(text).toContain('4. Scale-out: skipped (set REDIS_URL or install redis-server)');
      expect(report.scaleOut).toEqual({ skipped: 'no Redis: neither REDIS_URL nor a redis-server on PATH' });
      expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    });
  });

  it('on a real endpoint (no simulator server): counts with a middleware, sends no simulator fields, skips hedging and routing', async () => {
    const sent: LlmRequest[] = [];
    const endpoint = sseTransport({ baseURL: server.baseURL });
    const transport: Transport = (request) => {
      sent.push(request);
      return endpoint(request);
    };
    const lines: string[] = [];
    server.resetStats();
    const report = await runTechniques({ transport, model: 'quick', log: (line) => lines.push(line) });

    expect(report.hedgingRouting).toEqual({ skipped: expect.stringContaining('simulator') });
    expect(lines.join('\n')).toContain('Hedging and routing: skipped');
    expect(report.scaleOut).toEqual({ skipped: 'needs the built-in simulator' });
    expect(report.dedupeCache.countedBy).toBe('a counting middleware');
    expect(report.dedupeCache.dedupe.upstreamWithout).toBe(report.dedupeCache.dedupe.identicalRequests);
    expect(report.dedupeCache.dedupe.upstreamWith).toBe(1);
    expect(report.loadControl.upstream).toBe(report.loadControl.batch.batches + report.loadControl.batch.sentAlone + report.loadControl.interactive);
    // What a provider would have received: plain requests, each sent once.
    expect(server.stats().requests).toBe(sent.length);
    for (const request of sent) {
      expect(request).not.toHaveProperty('rxllm_sim');
      expect(request).not.toHaveProperty('rxllm_lane');
    }
  }, 15_000);
});
