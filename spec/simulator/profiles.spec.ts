import {
  applyOverride,
  defaultSimulatorProfiles,
  parseProfileOverride,
  parseSimulatorProfiles,
  ProfileBook,
} from '../../src/simulator/profiles';

describe('defaultSimulatorProfiles', () => {
  it('has the three tiers, two deployments of the small model, and a fallback', () => {
    const median = (name: string) => (defaultSimulatorProfiles[name]!.ttftMs as { median: number }).median;
    expect(median('gpt-4o-mini')).toBe(500);
    expect(median('gpt-4o')).toBe(700);
    expect(median('gpt-4.1')).toBeGreaterThanOrEqual(1200);
    expect(median('gpt-4.1')).toBeLessThanOrEqual(1500);
    expect(median('gpt-4o-mini@eastus')).toBeLessThan(median('gpt-4o-mini@westeurope'));
    expect(defaultSimulatorProfiles['*']).toBeDefined();
  });

  it('is frozen all the way down, so no caller can change another simulator’s defaults', () => {
    expect(Object.isFrozen(defaultSimulatorProfiles)).toBe(true);
    expect(Object.isFrozen(defaultSimulatorProfiles['gpt-4o'])).toBe(true);
    expect(Object.isFrozen(defaultSimulatorProfiles['gpt-4o']!.ttftMs)).toBe(true);
    expect(Object.isFrozen(defaultSimulatorProfiles['gpt-4o']!.faults)).toBe(true);
  });
});

describe('ProfileBook', () => {
  it('gives unknown models the fallback, and merges partial profiles over the same name or the fallback', () => {
    const book = new ProfileBook({
      'gpt-4o': { tokensPerSecond: 10 },
      mine: { ttftMs: 42 },
      '*': { jitter: 0 },
    });
    expect(book.get('nobody-knows')).toEqual({ ...defaultSimulatorProfiles['*'], jitter: 0 });
    expect(book.get('gpt-4o')).toEqual({ ...defaultSimulatorProfiles['gpt-4o'], tokensPerSecond: 10 });
    expect(book.get('mine')).toEqual({ ...defaultSimulatorProfiles['*'], jitter: 0, ttftMs: 42 });
    expect(book.has('mine')).toBe(true);
    expect(book.has('nobody-knows')).toBe(false);
    expect(book.names()).toEqual(expect.arrayContaining(['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'mine']));
    expect(book.names()).not.toContain('*');
  });
});

describe('parseSimulatorProfiles', () => {
  it('accepts a JSON file’s worth of profiles', () => {
    const input = JSON.parse(
      '{"slow":{"ttftMs":{"median":900,"p95":2000},"faults":[{"type":"status","status":429,"retryAfterMs":500,"probability":0.1},{"type":"disconnect","afterTokens":3,"firstRequests":1}]}}',
    );
    expect(parseSimulatorProfiles(input)).toEqual(input);
  });

  it('rejects mistakes with invalid-config, naming each path', () => {
    let error: unknown;
    try {
      parseSimulatorProfiles({ m: { ttftMs: { median: 500, p95: 100 }, faults: [{ type: 'stall' }], tokensPerSecond: 0 } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'invalid-config', path: 'm.ttftMs' });
    expect((error as Error).message).toMatchInlineSnapshot(`
"Invalid simulator profiles:
✖ p95 must be ≥ median
  → at m.ttftMs
✖ Too small: expected number to be >0
  → at m.tokensPerSecond
✖ a fault needs \`probability\` and/or \`firstRequests\`, or it never fires
  → at m.faults[0]"
`);
  });
});

describe('parseProfileOverride', () => {
  it('reads the x-rxllm-sim syntax', () => {
    expect(parseProfileOverride('ttft=300, tokens=50,tail_p=0.02')).toEqual({ profile: { ttftMs: 300, outputTokens: 50 }, tailProbability: 0.02 });
    expect(parseProfileOverride('ttft=300,ttft_p95=600,tps=40,jitter=0')).toEqual({
      profile: { ttftMs: { median: 300, p95: 600 }, tokensPerSecond: 40, jitter: 0 },
    });
    expect(parseProfileOverride('fault=429,retry_after=1500').fault).toEqual({ type: 'status', status: 429, retryAfterMs: 1500, probability: 1 });
    expect(parseProfileOverride('fault=disconnect,fault_after=4').fault).toEqual({ type: 'disconnect', afterTokens: 4, probability: 1 });
    expect(parseProfileOverride('fault=stall').fault).toEqual({ type: 'stall', probability: 1 });
    expect(parseProfileOverride('')).toEqual({ profile: {} });
  });

  it.each([
    ['ttf=3', /unknown key "ttf"/],
    ['ttft=abc', /"ttft" must be a number ≥ 0, got "abc"/],
    ['tokens=2.5', /"tokens" must be an integer/],
    ['tail_p=2', /"tail_p" must be a number ≥ 0 and ≤ 1/],
    ['fault=418x', /"fault" must be an HTTP status/],
    ['fault_after=3', /need "fault"/],
    ['ttft_p95=300', /needs "ttft"/],
  ])('rejects %s with invalid-request', (text, message) => {
    expect(() => parseProfileOverride(text)).toThrow(expect.objectContaining({ code: 'invalid-request', path: 'rxllm_sim', message: expect.stringMatching(message) }));
  });
});

describe('applyOverride', () => {
  const base = defaultSimulatorProfiles['gpt-4o-mini']!;
  it('replaces only the named fields; a partial tail keeps the profile’s other half', () => {
    const out = applyOverride(base, parseProfileOverride('ttft=10,tail_x=9'));
    expect(out).toEqual({ ...base, ttftMs: 10, tail: { probability: base.tail!.probability, multiplier: 9 } });
    expect(applyOverride(base, undefined)).toBe(base);
  });

  it('forces a fault in place of the profile’s', () => {
    const withFaults = { ...base, faults: [{ type: 'status' as const, status: 500, probability: 0.5 }] };
    expect(applyOverride(withFaults, parseProfileOverride('fault=503')).faults).toEqual([{ type: 'status', status: 503, probability: 1 }]);
  });
});
