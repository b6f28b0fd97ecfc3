import { asyncScheduler, concat, lastValueFrom, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { contentAnalysisPipeline, SAMPLE_TEXTS } from '../../../src/cli/demo/pipeline';
import type { LlmRequest } from '../../../src/core/request';
import { Simulator } from '../../../src/simulator/plan';
import { textScript } from '../../../src/testing/script';
import { scriptedTransport } from '../../../src/testing/scriptedTransport';

// The answers the demo's prompts get (any will do: the reply step's request depends on them, the same in every mode).
const llm = () =>
  scriptedTransport((request: LlmRequest) => {
    const prompt = String(request.messages[0]!.content);
    const answer = (text: string) => textScript(text, { at: 100, every: 10 });
    if (prompt.startsWith('Classify')) return answer('positive');
    if (prompt.startsWith('Summarize')) return answer('Fast and quiet.');
    if (prompt.startsWith('Extract')) return answer('{"value": ["fast", "quiet", "laptop", "battery", "fan"]}');
    return answer('Thank you!');
  });

type Mode = 'sequential' | 'parallel' | 'graph';

/** The requests one mode sends for one text, as the demo runs it (src/cli/demo/demo.ts: runOnce). */
function requestsOf(mode: Mode, text: string): LlmRequest[] {
  const transport = llm();
  new TestScheduler((a, b) => expect(a).toEqual(b)).run(({ flush }) => {
    const pipeline = contentAnalysisPipeline(() => transport, 'gpt-4o-mini');
    const { sentiment, summary, keywords } = pipeline.steps;
    const run: Observable<unknown> =
      mode === 'sequential' ? concat(sentiment.run(text), summary.run(text), keywords.run(text)) : mode === 'parallel' ? pipeline.all.run(text) : pipeline.withReply.run(text);
    void lastValueFrom(run, { defaultValue: undefined });
    flush();
  });
  expect(transport.requests.every((request) => request.outcome === 'completed')).toBe(true);
  return transport.requests.map((request) => request.request);
}

/** Each step's simulated time to first token and to its last token, as a fresh simulator of `seed` plans the mode's requests in the order sent. */
function simulatedTimes(requests: LlmRequest[], seed: number): Record<string, [number, number]> {
  const simulator = new Simulator({ seed });
  return Object.fromEntries(
    requests.map((request) => {
      const plan = simulator.planChat(request, { stream: true, includeUsage: true });
      simulator.answered(plan);
      const prompt = String(request.messages[0]!.content).split(' ')[0]!;
      return [prompt, [plan.stepTimes[0]!, plan.stepTimes.at(-1)!]];
    }),
  );
}

describe('contentAnalysisPipeline: a fair comparison', () => {
  it.each([1, 2, 7])('each step of each text has the same simulated latency in every mode (seed %i): the modes differ only by their shape', (seed) => {
    for (const text of SAMPLE_TEXTS) {
      const sequential = simulatedTimes(requestsOf('sequential', text), seed);
      const parallel = simulatedTimes(requestsOf('parallel', text), seed);
      const graph = simulatedTimes(requestsOf('graph', text), seed);
      expect(Object.keys(sequential)).toEqual(['Classify', 'Summarize', 'Extract']);
      expect(parallel).toEqual(sequential);
      // The graph adds the reply; its three shared steps take what they take in the other modes.
      expect(Object.keys(graph).sort()).toEqual(['Classify', 'Draft', 'Extract', 'Summarize']);
      expect({ ...graph, Draft: undefined }).toEqual({ ...sequential, Draft: undefined });
    }
  });

  it('the steps and texts do not all take the same time (the check above is not vacuous)', () => {
    const times = SAMPLE_TEXTS.flatMap((text) => Object.values(simulatedTimes(requestsOf('sequential', text), 1)).map(([firstToken]) => firstToken));
    expect(new Set(times).size).toBeGreaterThan(5);
  });

  it('keywords: a flat list of strings, as the step asks (a JSON array wrapped as { value } on the wire)', () => {
    const [request] = requestsOf('sequential', SAMPLE_TEXTS[0]!).filter((r) => String(r.messages[0]!.content).startsWith('Extract'));
    expect(request!.response_format).toMatchObject({ type: 'json_schema', json_schema: { schema: { properties: { value: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 8 } } } } });
  });

  it('keywords on the simulator: exactly the five the prompt asks for, flat', async () => {
    const { simulatedTransport } = await import('../../../src/simulator/simulatedTransport');
    const pipeline = contentAnalysisPipeline(() => simulatedTransport({ seed: 1, scheduler: asyncScheduler, profiles: { '*': { ttftMs: 1, tokensPerSecond: 100_000, jitter: 0 } } }), 'gpt-4o-mini');
    for (const text of SAMPLE_TEXTS) {
      const keywords = await lastValueFrom(pipeline.steps.keywords.value(text));
      expect(keywords).toHaveLength(5);
      expect(keywords.every((word) => typeof word === 'string' && word.length > 0)).toBe(true);
    }
  });
});
