import type { LlmRequest } from '../../src/core/request';
import { isSampledRequest, requestKey, scopeOf } from '../../src/core/requestKey';

const base: LlmRequest = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'Classify the sentiment.' },
    { role: 'user', content: 'I love it' },
  ],
  temperature: 0,
  response_format: { type: 'json_schema', json_schema: { name: 'label', schema: { type: 'object', properties: { a: {}, b: {} } } } },
};

describe('requestKey', () => {
  it('keys one request object again by lookup, and still tells its scopes apart', () => {
    const request = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
    const unscoped = requestKey(request, {});
    expect(requestKey(request, {})).toBe(unscoped);
    expect(requestKey(request, 'tenant-a')).not.toBe(unscoped);
    expect(requestKey(request, 'tenant-b')).not.toBe(requestKey(request, 'tenant-a'));
    expect(requestKey(request, { tenant: 'a' })).not.toBe(unscoped);
    expect(requestKey(request, {})).toBe(requestKey({ ...request }, {}));
  });

  it('is 64 hex digits', () => {
    expect(requestKey(base, {})).toMatch(/^[0-9a-f]{64}$/);
  });

  describe('stability: the same answer-shaping content gives the same key', () => {
    it('whatever the key order, at every depth', () => {
      const reordered = {
        response_format: { json_schema: { schema: { properties: { b: {}, a: {} }, type: 'object' }, name: 'label' }, type: 'json_schema' },
        temperature: 0,
        messages: [
          { content: 'Classify the sentiment.', role: 'system' },
          { content: 'I love it', role: 'user' },
        ],
        model: 'gpt-4o-mini',
      } as LlmRequest;
      expect(requestKey(reordered, { tenant: 'a' })).toBe(requestKey(base, { tenant: 'a' }));
    });

    it('with undefined fields present or absent', () => {
      expect(requestKey({ ...base, top_p: undefined, tools: undefined }, {})).toBe(requestKey(base, {}));
    });

    it('with `stream` true, false or absent (rxllm turns both into the same events)', () => {
      const key = requestKey(base, {});
      expect(requestKey({ ...base, stream: true }, {})).toBe(key);
      expect(requestKey({ ...base, stream: false }, {})).toBe(key);
    });

    it('across calls and scope key order', () => {
      expect(requestKey(base, { tenant: 'a', baseURL: 'u' })).toBe(requestKey(structuredClone(base), { baseURL: 'u', tenant: 'a' }));
    });
  });

  describe('separation: anything that can change the answer changes the key', () => {
    const variants: Record<string, LlmRequest> = {
      model: { ...base, model: 'gpt-4o' },
      'message text': { ...base, messages: [base.messages[0]!, { role: 'user', content: 'I hate it' }] },
      'message role': { ...base, messages: [base.messages[0]!, { role: 'assistant', content: 'I love it' }] },
      'message order': { ...base, messages: [...base.messages].reverse() },
      temperature: { ...base, temperature: 0.7 },
      'temperature null vs absent': { ...base, temperature: null },
      top_p: { ...base, top_p: 0.5 },
      max_tokens: { ...base, max_tokens: 5 },
      stop: { ...base, stop: ['\n'] },
      n: { ...base, n: 2 },
      seed: { ...base, seed: 42 },
      presence_penalty: { ...base, presence_penalty: 1 },
      logit_bias: { ...base, logit_bias: { '50256': -100 } },
      tools: { ...base, tools: [{ type: 'function', function: { name: 'get_weather' } }] },
      tool_choice: { ...base, tool_choice: 'required' },
      response_format: { ...base, response_format: { type: 'json_object' } },
      'schema detail': {
        ...base,
        response_format: { type: 'json_schema', json_schema: { name: 'label', schema: { type: 'object', properties: { a: {} } } } },
      },
      reasoning_effort: { ...base, reasoning_effort: 'high' },
      stream_options: { ...base, stream_options: { include_usage: false } },
      user: { ...base, user: 'end-user-42' },
      'vendor field': { ...base, guided_json: { type: 'object' } },
    };

    it.each(Object.entries(variants))('%s', (_name, variant) => {
      expect(requestKey(variant, {})).not.toBe(requestKey(base, {}));
    });

    it('every variant has its own key (no two collide)', () => {
      const keys = Object.values(variants).map((variant) => requestKey(variant, {}));
      expect(new Set(keys).size).toBe(keys.length);
    });

    it('scope separates tenants, credentials and endpoints', () => {
      const scopes = [
        {},
        'acme',
        'globex',
        { tenant: 'acme' },
        { tenant: 'globex' },
        { tenant: 'acme', credentials: 'key-1' },
        { tenant: 'acme', credentials: 'key-2' },
        { tenant: 'acme', credentials: 'key-1', baseURL: 'https://api.openai.com/v1' },
        { tenant: 'acme', credentials: 'key-1', baseURL: 'https://example.azure.com/v1' },
      ];
      const keys = scopes.map((scope) => requestKey(base, scope));
      expect(new Set(keys).size).toBe(scopes.length);
    });

    it('a request field cannot be confused with a scope part', () => {
      expect(requestKey({ ...base, tenant: 'acme' }, {})).not.toBe(requestKey(base, { tenant: 'acme' }));
    });

    it('never contains the credential it was scoped with', () => {
      expect(requestKey(base, { credentials: 'sk-secret' })).not.toContain('sk-secret');
    });
  });
});

describe('scopeOf', () => {
  it("is the context's scope attribute, and nothing else of the context", () => {
    expect(scopeOf({ step: 'a', lane: 'background', deadline: 5, attributes: { scope: 'acme', user: 'u1' } })).toBe('acme');
    expect(requestKey(base, scopeOf({ lane: 'interactive', attributes: { scope: 'acme' } }))).toBe(requestKey(base, scopeOf({ lane: 'background', step: 'x', attributes: { scope: 'acme', run: '7' } })));
    expect(requestKey(base, scopeOf({ attributes: { scope: 'acme' } }))).not.toBe(requestKey(base, scopeOf({ attributes: { scope: 'globex' } })));
  });

  it('is the empty scope without a scope attribute, so an unscoped key is the same with or without a context', () => {
    expect(scopeOf(undefined)).toEqual({});
    expect(scopeOf({ step: 'a', attributes: { tenant: 'acme' } })).toEqual({});
    expect(requestKey(base, scopeOf({ lane: 'background' }))).toBe(requestKey(base, {}));
  });
});

describe('isSampledRequest', () => {
  const request = (fields: Partial<LlmRequest>): LlmRequest => ({ ...base, temperature: undefined, ...fields });
  it('counts temperature above 0, and unset (OpenAI defaults to 1), as sampled', () => {
    expect(isSampledRequest(request({}))).toBe(true);
    expect(isSampledRequest(request({ temperature: null }))).toBe(true);
    expect(isSampledRequest(request({ temperature: 0.2 }))).toBe(true);
    expect(isSampledRequest(request({ temperature: 0 }))).toBe(false);
  });
  it('counts n > 1 as sampled, even at temperature 0', () => {
    expect(isSampledRequest(request({ temperature: 0, n: 2 }))).toBe(true);
    expect(isSampledRequest(request({ temperature: 0, n: 1 }))).toBe(false);
  });
});
