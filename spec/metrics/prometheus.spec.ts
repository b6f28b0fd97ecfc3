import { type Metric, Registry } from 'prom-client';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import type { LatencyRecord } from '../../src/metrics/LatencyRecord';
import { prometheusContentType, prometheusMetrics, prometheusText } from '../../src/metrics/prometheus';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  help: Map<string, string>;
  types: Map<string, string>;
  samples: Sample[];
}

/** A strict reader of the text exposition format 0.0.4: it throws on any line it does not understand. */
function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const unescape = (value: string) => value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let match = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (match) {
      help.set(match[1]!, unescape(match[2]!));
      continue;
    }
    match = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (match) {
      if (types.has(match[1]!)) throw new Error(`TYPE given twice for ${match[1]}`);
      types.set(match[1]!, match[2]!);
      continue;
    }
    match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let consumed = 0;
    for (let label = labelPattern.exec(labelText); label; label = labelPattern.exec(labelText)) {
      labels[label[1]!] = unescape(label[2]!);
      consumed = labelPattern.lastIndex;
    }
    if (consumed !== labelText.length) throw new Error(`bad labels: ${labelText}`);
    const raw = match[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? Number.NaN : Number(raw);
    if (raw !== 'NaN' && Number.isNaN(value)) throw new Error(`bad value: ${raw}`);
    samples.push({ name: match[1]!, labels, value });
  }
  return { help, types, samples };
}

const familyOf = (name: string) => name.replace(/_(bucket|sum|count)$/, '');

function filledRegistry(): LatencyRegistry {
  const registry = new LatencyRegistry({ scheduler: { now: () => 0 } as never });
  const record = (step: string, ttft: number | undefined, total: number, outcome: LatencyRecord['outcome'] = 'ok', errorCode?: string) =>
    registry.record({
      step,
      model: 'gpt-4o-mini',
      start: 0,
      ...(ttft === undefined ? {} : { firstToken: ttft }),
      end: total,
      outcome,
      ...(errorCode ? { errorCode } : {}),
      outputTokens: 10,
      outputTokensFrom: 'usage',
      inputTokens: 30,
      finishReasons: ['stop'],
    });
  record('summary', 80, 300);
  record('summary', 100, 640);
  record('summary', 2000, 9000);
  record('summary', undefined, 50_000, 'error', 'timeout');
  record('summary', 300, 400, 'cancelled');
  record('odd "step"\\\nname', 20, 25);
  return registry;
}

describe('prometheusText', () => {
  const text = prometheusText(filledRegistry());
  const exposition = parseExposition(text);
  const samples = (name: string, step = 'summary') => exposition.samples.filter((s) => s.name === name && s.labels.step === step);

  it('parses back as the text format: every sample belongs to a declared family, HELP before TYPE', () => {
    expect(text.endsWith('\n')).toBe(true);
    expect([...exposition.types]).toEqual([
      ['rxllm_requests_total', 'counter'],
      ['rxllm_time_to_first_token_seconds', 'histogram'],
      ['rxllm_request_duration_seconds', 'histogram'],
      ['rxllm_output_tokens_total', 'counter'],
      ['rxllm_input_tokens_total', 'counter'],
      ['rxllm_output_tokens_per_second', 'summary'],
    ]);
    for (const sample of exposition.samples) expect(exposition.types.has(familyOf(sample.name))).toBe(true);
    for (const name of exposition.types.keys()) expect(text.indexOf(`# HELP ${name} `)).toBeLessThan(text.indexOf(`# TYPE ${name} `));
  });

  it('counts requests by outcome and error code', () => {
    const byOutcome = samples('rxllm_requests_total').map((s) => [s.labels.outcome, s.labels.code, s.value]);
    expect(byOutcome).toEqual([
      ['ok', undefined, 3],
      ['error', 'timeout', 1],
      ['cancelled', undefined, 1],
    ]);
    expect(samples('rxllm_output_tokens_total')[0]!.value).toBe(50);
    expect(samples('rxllm_input_tokens_total')[0]!.value).toBe(150);
  });

  it('writes histograms with cumulative buckets in seconds, ending at +Inf = count', () => {
    const buckets = samples('rxllm_time_to_first_token_seconds_bucket');
    const les = buckets.map((s) => s.labels.le);
    expect(les).toEqual(['0.001', '0.005', '0.01', '0.02', '0.04', '0.06', '0.08', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf']);
    const counts = buckets.map((s) => s.value);
    expect(counts.every((count, i) => i === 0 || count >= counts[i - 1]!)).toBe(true);
    // TTFTs 80, 100, 2000 and 300 ms (the cancelled one had a first token; the error had none).
    expect(Object.fromEntries(buckets.map((s) => [s.labels.le, s.value]))).toMatchObject({ '0.06': 0, '0.08': 1, '0.1': 2, '0.25': 2, '0.5': 3, '2.5': 4, '+Inf': 4 });
    expect(samples('rxllm_time_to_first_token_seconds_count')[0]!.value).toBe(4);
    expect(samples('rxllm_time_to_first_token_seconds_sum')[0]!.value).toBeCloseTo(2.48, 10);
    // Duration: completed requests only (300, 640, 9000 ms).
    const duration = samples('rxllm_request_duration_seconds_bucket');
    expect(Object.fromEntries(duration.map((s) => [s.labels.le, s.value]))).toMatchObject({ '0.32': 1, '0.64': 2, '5.12': 2, '10.24': 3, '+Inf': 3 });
    expect(samples('rxllm_request_duration_seconds_sum')[0]!.value).toBeCloseTo(9.94, 10);
  });

  it('writes the decode-speed summary with window quantiles', () => {
    const quantiles = samples('rxllm_output_tokens_per_second').map((s) => [s.labels.quantile, s.value]);
    // 10 tokens over 220, 540 and 7000 ms after the first token.
    expect(quantiles).toEqual([
      ['0.5', 18.5],
      ['0.95', 45.5],
      ['0.99', 45.5],
    ]);
    expect(samples('rxllm_output_tokens_per_second_count')[0]!.value).toBe(3);
  });

  it('escapes label values: quote, backslash and newline survive the round trip', () => {
    expect(text).toContain('step="odd \\"step\\"\\\\\\nname"');
    expect(exposition.samples.some((s) => s.labels.step === 'odd "step"\\\nname')).toBe(true);
  });

  it('takes a prefix and prints only declarations for an empty registry', () => {
    const empty = prometheusText(new LatencyRegistry(), { prefix: 'app_llm_' });
    expect(parseExposition(empty).samples).toEqual([]);
    expect(empty).toContain('# TYPE app_llm_requests_total counter');
    expect(prometheusContentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});

describe('prometheusMetrics', () => {
  it('registers in a prom-client Registry, which then prints the same samples, read live', async () => {
    const latency = filledRegistry();
    const promRegistry = new Registry();
    for (const metric of prometheusMetrics(latency)) promRegistry.registerMetric(metric as unknown as Metric);
    const key = (s: Sample) => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}=${s.value}`;

    const fromPromClient = parseExposition(await promRegistry.metrics());
    expect(fromPromClient.samples.map(key)).toEqual(parseExposition(prometheusText(latency)).samples.map(key));
    expect([...fromPromClient.types]).toEqual([...parseExposition(prometheusText(latency)).types]);

    latency.record({ step: 'summary', model: 'gpt-4o-mini', start: 0, end: 1, outcome: 'cancelled', outputTokens: 0, outputTokensFrom: 'counted', finishReasons: [] });
    const json = await promRegistry.getMetricsAsJSON();
    const requests = json.find((metric) => metric.name === 'rxllm_requests_total')!;
    expect(requests.values.find((v) => v.labels.step === 'summary' && v.labels.outcome === 'cancelled')?.value).toBe(2);
  });
});
