import type { LlmRequest } from '../../src/core/request';
import { planStep, requestOverride, Simulator, type ChatPlan } from '../../src/simulator/plan';
import { distributionQuantile } from '../../src/simulator/latency';
import { tokenize } from '../../src/simulator/tokenize';

const request: LlmRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Explain backpressure in reactive streams' }] };
const streaming = { stream: true, includeUsage: true };
const stepsOf = (plan: ChatPlan) => plan.stepTimes.map((_, i) => planStep(plan, i));

describe('Simulator.planChat', () => {
  it('plans the same response for the same seed and request order', () => {
    const a = new Simulator({ seed: 4 });
    const b = new Simulator({ seed: 4 });
    expect(b.planChat(request, streaming)).toEqual(a.planChat(request, streaming));
    expect(b.planChat(request, streaming)).toEqual(a.planChat(request, streaming));
  });

  it('keeps the answer when only the order, stream flag, override or deployment differ; an identical request in flight is a new attempt, with its own delays', () => {
    const sim = new Simulator({ seed: 4 });
    const first = sim.planChat(request, streaming);
    const second = sim.planChat(request, streaming);
    const whole = sim.planChat({ ...request, stream: false }, { stream: false, includeUsage: true });
    const overridden = sim.planChat(request, { ...streaming, override: requestOverride({ ...request, rxllm_sim: 'ttft=10' } as LlmRequest) });
    const deployment = sim.planChat({ ...request, model: 'gpt-4o-mini@eastus' }, streaming);
    for (const plan of [second, whole, overridden, deployment]) expect(plan.choices).toEqual(first.choices);
    expect(second.stepTimes[0]).not.toBe(first.stepTimes[0]);
    expect(overridden.stepTimes[0]).toBe(10);
    expect(sim.planChat({ ...request, model: 'gpt-4o' }, streaming).choices).not.toEqual(first.choices);
    expect(sim.requestCount).toBe(6);
  });

  it('times tokens at the profile speed after the first, and accounts usage', () => {
    const sim = new Simulator({ profiles: { m: { ttftMs: 100, tokensPerSecond: 40, jitter: 0, outputTokens: 6 } } });
    const plan = sim.planChat({ ...request, model: 'm' }, streaming);
    expect(plan.stepTimes).toEqual([100, 125, 150, 175, 200, 225]);
    const steps = stepsOf(plan);
    expect(steps.map((s) => s.atMs)).toEqual(plan.stepTimes);
    expect(steps.flatMap((s) => s.deltas.map((d) => (d.type === 'text' ? d.text : d.type))).join('')).toBe(`${plan.choices[0]!.content}finish`);
    expect(steps.at(-1)!.deltas.at(-1)).toEqual({ type: 'finish', choice: 0, reason: 'stop' });
    expect(plan.usage.completion_tokens).toBe(6);
    expect(plan.usage.total_tokens).toBe(plan.usage.prompt_tokens + 6);
    expect(plan.ending).toEqual({ type: 'complete', atMs: 225 });
    expect(plan.id).toMatch(/^chatcmpl-sim[0-9a-f]{16}$/);
  });

  it('jitters the gaps between tokens while keeping the average speed', () => {
    const sim = new Simulator({ profiles: { m: { ttftMs: 0, tokensPerSecond: 50, jitter: 0.5, outputTokens: 400 } } });
    const times = sim.planChat({ ...request, model: 'm' }, streaming).stepTimes;
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(new Set(gaps).size).toBeGreaterThan(5);
    expect(Math.abs(times.at(-1)! / (times.length - 1) / 20 - 1)).toBeLessThan(0.1);
  });

  it('caps at max_tokens (finish "length") and cuts at a stop sequence (finish "stop")', () => {
    const sim = new Simulator({ profiles: { m: { outputTokens: 50 } } });
    const capped = sim.planChat({ ...request, model: 'm', max_tokens: 7 }, streaming);
    expect(capped.choices[0]).toMatchObject({ finishReason: 'length' });
    expect(tokenize(capped.choices[0]!.content!)).toHaveLength(7);
    expect(capped.usage.completion_tokens).toBe(7);
    const full = sim.planChat({ ...request, model: 'm' }, streaming).choices[0]!.content!;
    const stop = full.split(' ')[4]!;
    const stopped = sim.planChat({ ...request, model: 'm', stop: [` ${stop}`] }, streaming);
    expect(stopped.choices[0]).toEqual({ index: 0, content: full.slice(0, full.indexOf(` ${stop}`)), toolCalls: [], finishReason: 'stop', tokenEnds: expect.any(Array) });
  });

  it('cuts a tool call at max_tokens too', () => {
    const tools: LlmRequest['tools'] = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } } }];
    const plan = new Simulator().planChat({ ...request, tools, max_tokens: 3 }, streaming);
    expect(plan.choices[0]).toMatchObject({ content: null, finishReason: 'length', toolCalls: [{ name: 'lookup', arguments: '{"' }] });
    expect(stepsOf(plan).map((s) => s.deltas)).toEqual([
      [{ type: 'tool-call', choice: 0, callIndex: 0, id: expect.stringMatching(/^call_/), name: 'lookup', arguments: '' }],
      [{ type: 'tool-call', choice: 0, callIndex: 0, arguments: '{' }],
      [{ type: 'tool-call', choice: 0, callIndex: 0, arguments: '"' }, { type: 'finish', choice: 0, reason: 'length' }],
    ]);
  });

  it('plans faults: status now, disconnect and stall after N tokens, with the steps cut and unfinished', () => {
    const sim = new Simulator({
      profiles: {
        s: { ttftMs: 100, faults: [{ type: 'status', status: 429, firstRequests: 1 }] },
        d: { ttftMs: 100, tokensPerSecond: 100, jitter: 0, outputTokens: 10, faults: [{ type: 'disconnect', afterTokens: 3, probability: 1 }] },
        t: { ttftMs: 100, outputTokens: 10, faults: [{ type: 'stall', afterTokens: 2, probability: 1 }] },
      },
    });
    const limited = sim.planChat({ ...request, model: 's' }, streaming);
    expect(limited.stepTimes).toEqual([]);
    expect(limited.ending).toMatchObject({ type: 'status', atMs: 0, status: 429, headers: { 'retry-after': '1', 'retry-after-ms': '1000', 'x-request-id': limited.requestId } });
    expect(JSON.parse((limited.ending as { body: string }).body)).toEqual({
      error: { message: expect.stringContaining('Rate limit reached for s'), type: 'requests', param: null, code: 'rate_limit_exceeded' },
    });
    expect(sim.planChat({ ...request, model: 's' }, streaming).ending.type).toBe('complete');

    const dropped = sim.planChat({ ...request, model: 'd' }, streaming);
    expect(dropped.stepTimes).toEqual([100, 110, 120]);
    expect(dropped.ending).toEqual({ type: 'disconnect', atMs: 130 });
    const stalled = sim.planChat({ ...request, model: 't' }, streaming);
    expect(stalled.stepTimes).toHaveLength(2);
    expect(stalled.ending).toEqual({ type: 'stall', beforeHeaders: false });
    for (const plan of [dropped, stalled]) expect(stepsOf(plan).flatMap((s) => s.deltas).some((d) => d.type === 'finish')).toBe(false);
    // Cut after every token: still no finish.
    const whole = sim.planChat({ ...request, model: 'd' }, { ...streaming, override: requestOverride(request, 'fault=disconnect,fault_after=99') });
    expect(whole.stepTimes).toHaveLength(10);
    expect(stepsOf(whole).flatMap((s) => s.deltas).some((d) => d.type === 'finish')).toBe(false);
  });

  it('plans n choices on one timeline', () => {
    const plan = new Simulator({ profiles: { m: { outputTokens: 5, jitter: 0 } } }).planChat({ ...request, model: 'm', n: 3 }, streaming);
    expect(plan.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(planStep(plan, 0).deltas.map((d) => d.choice)).toEqual([0, 1, 2]);
    expect(plan.usage.completion_tokens).toBe(15);
  });
});

describe('Simulator.planEmbeddings', () => {
  it('uses the embedding model’s latency, and the small embedding profile for unknown names', () => {
    const sim = new Simulator({ profiles: { e: { ttftMs: 33 } } });
    expect(sim.planEmbeddings('e').ending).toEqual({ type: 'complete', atMs: 33 });
    const unknown = sim.planEmbeddings('my-embedder').ending as { atMs: number };
    expect(unknown.atMs).toBeLessThan(400);
    expect(sim.planEmbeddings('e', requestOverride(request, 'fault=503')).ending).toMatchObject({ type: 'status', status: 503 });
  });
});

describe('requestOverride', () => {
  it('merges the header and the rxllm_sim field, the field winning', () => {
    expect(requestOverride({ ...request, rxllm_sim: 'ttft=5' } as LlmRequest, 'ttft=9,tokens=3')).toEqual({ profile: { ttftMs: 5, outputTokens: 3 } });
    expect(requestOverride(request)).toBeUndefined();
    expect(() => requestOverride({ ...request, rxllm_sim: 5 } as unknown as LlmRequest)).toThrow(expect.objectContaining({ code: 'invalid-request' }));
  });

  it('samples the profile distribution over many different prompts, though each prompt always takes the same time', () => {
    const sim = new Simulator({ seed: 2024 });
    const ttfts = Array.from({ length: 4000 }, (_, i) => {
      const plan = sim.planChat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Classify review ${i}: great service.` }] }, streaming);
      sim.answered(plan);
      return plan.stepTimes[0]!;
    }).sort((a, b) => a - b);
    const { ttftMs, tail } = sim.profiles.get('gpt-4o-mini');
    for (const q of [0.5, 0.95]) {
      const expected = distributionQuantile(ttftMs, tail, q);
      expect(Math.abs(ttfts[Math.floor(q * ttfts.length)]! / expected - 1)).toBeLessThan(0.05);
    }
    // The 1 % tail is there (3× the body), not an artefact of one slow prompt.
    expect(ttfts.filter((ttft) => ttft > distributionQuantile(ttftMs, undefined, 0.999)).length).toBeGreaterThan(10);
  });
});
