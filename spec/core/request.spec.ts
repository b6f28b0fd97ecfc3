import { isRxllmError, type RxllmError } from '../../src/core/errors';
import { checkRequestToSend, llmRequestSchema, parseRequest } from '../../src/core/request';

function rejection(input: unknown): RxllmError {
  try {
    parseRequest(input);
  } catch (error) {
    if (isRxllmError(error)) return error;
    throw error;
  }
  throw new Error('parseRequest accepted the input');
}

const base = { model: 'gpt-4o-mini' };

describe('parseRequest', () => {
  it('accepts a message of every role, content parts, and assistant tool calls', () => {
    const request = {
      ...base,
      messages: [
        { role: 'developer', content: 'Answer in French.' },
        { role: 'system', content: [{ type: 'text', text: 'You are terse.' }], name: 'house-rules' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in this picture, and what does this say?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
            { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
            { type: 'file', file: { file_id: 'file-abc123', filename: 'notes.pdf' } },
          ],
          name: 'ada',
        },
        {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
            { id: 'call_2', type: 'function', function: { name: 'run_sql', arguments: '{"q":"select 1"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '1' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Il fait 3 °C.' }, { type: 'refusal', refusal: 'Pas de SQL.' }] },
        { role: 'function', name: 'legacy_fn', content: null },
        { role: 'assistant', content: 'Ok.', function_call: { name: 'legacy_fn', arguments: '{}' } },
      ],
      max_tokens: 256,
      max_completion_tokens: 512,
      temperature: 0,
      top_p: 1,
      stop: ['\n\n', 'END', 'STOP', '###', '---'], // more than OpenAI's 4: vLLM and llama.cpp take them
      n: 2,
      seed: 42,
      tools: [
        { type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object' }, strict: true } },
        { type: 'function', function: { name: 'run_sql' } },
      ],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: true,
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: { type: 'object' }, strict: true } },
      stream: true,
      stream_options: { include_usage: true },
      user: 'user-1234',
    };

    expect(parseRequest(request)).toEqual(request);
  });

  it.each([
    ['none', 'none'],
    ['auto', 'auto'],
    ['required', 'required'],
    ['a named function', { type: 'function', function: { name: 'get_weather' } }],
  ])('accepts tool_choice %s', (_name, toolChoice) => {
    expect(() => parseRequest({ ...base, messages: [{ role: 'user', content: 'hi' }], tool_choice: toolChoice })).not.toThrow();
  });

  it('passes unknown vendor fields through, at the top level and inside messages and parts', () => {
    const request = {
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Describe the clip', cache_control: { type: 'ephemeral' } },
            { type: 'video_url', video_url: { url: 'https://example.test/clip.mp4' } }, // vLLM
          ],
          vendor_note: 1,
        },
      ],
      top_k: 40, // vLLM, llama.cpp
      chat_template_kwargs: { enable_thinking: false }, // vLLM
      data_sources: [{ type: 'azure_search', parameters: { index_name: 'docs' } }], // Azure
      provider: { order: ['OpenAI'] }, // OpenRouter
    };

    expect(parseRequest(request)).toEqual(request);
  });

  it('names the offending path in the error, with every problem in the message', () => {
    const error = rejection({
      ...base,
      messages: [{ role: 'user', content: 'hi' }, { role: 'tool', content: 'done' }],
      temperature: 3,
    });

    expect(error.code).toBe('invalid-request');
    expect(error.path).toBe('messages.1.tool_call_id');
    expect(error.message).toMatchInlineSnapshot(`
"Invalid chat request; fix these fields before sending:
  at messages.1.tool_call_id: Invalid input: expected string, received undefined
  at temperature: Too big: expected number to be <=2"
`);
    expect(error.cause).toBeDefined();
  });

  it.each([
    ['a missing model', { messages: [{ role: 'user', content: 'hi' }] }, 'model'],
    ['no messages', { ...base, messages: [] }, 'messages'],
    ['an unknown role', { ...base, messages: [{ role: 'robot', content: 'hi' }] }, 'messages.0.role'],
    ['a text part without text', { ...base, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages.0.content.0.text'],
    ['an image part without a url', { ...base, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages.0.content.0.image_url.url'],
    ['content that is a number', { ...base, messages: [{ role: 'user', content: 42 }] }, 'messages.0.content'],
    [
      'a tool call without arguments',
      { ...base, messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f' } }] }] },
      'messages.0.tool_calls.0.function.arguments',
    ],
    ['a tool with an empty name', { ...base, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: '' } }] }, 'tools.0.function.name'],
    ['n of 0', { ...base, messages: [{ role: 'user', content: 'hi' }], n: 0 }, 'n'],
    ['a string max_tokens', { ...base, messages: [{ role: 'user', content: 'hi' }], max_tokens: '100' }, 'max_tokens'],
    ['an unknown response_format', { ...base, messages: [{ role: 'user', content: 'hi' }], response_format: { type: 'yaml' } }, 'response_format.type'],
    ['a tool_choice that is not a choice', { ...base, messages: [{ role: 'user', content: 'hi' }], tool_choice: 'sometimes' }, 'tool_choice'],
  ].map(([name, input, path]) => [name, path, input] as const))('rejects %s at %s', (_name, path, input) => {
    const error = rejection(input);
    expect(error.code).toBe('invalid-request');
    expect(error.path).toBe(path);
    expect(error.message).toContain(`at ${path}: `);
  });

  it('says which types would do when content is neither string nor parts', () => {
    expect(rejection({ ...base, messages: [{ role: 'user', content: 42 }] }).message).toContain(
      'at messages.0.content: Invalid input: expected string or array, received number',
    );
  });

  it('rejects something that is not an object at all, at the request itself', () => {
    const error = rejection('hello');
    expect(error.path).toBe('');
    expect(error.message).toContain('at (request): ');
  });

  it("remembers the request it returned, not the caller's object: a changed request is validated again", () => {
    const mine = { ...base, messages: [{ role: 'user', content: 'hi' }], temperature: 1 };
    const checked = parseRequest(mine);
    expect(checked).toEqual(mine);
    expect(parseRequest(checked)).toBe(checked);
    mine.temperature = 7;
    expect(() => parseRequest(mine)).toThrow(expect.objectContaining({ code: 'invalid-request', path: 'temperature' }));
  });

  it('is the schema exported as llmRequestSchema, a Standard Schema validator', () => {
    const validate = llmRequestSchema['~standard'].validate;
    expect(validate({ ...base, messages: [{ role: 'user', content: 'hi' }] })).toEqual({ value: { ...base, messages: [{ role: 'user', content: 'hi' }] } });
    expect(validate({ ...base, messages: [] })).toEqual({
      issues: [expect.objectContaining({ path: ['messages'], message: 'Too small: expected array to have >=1 items' })],
    });
  });
});

describe('checkRequestToSend (the transports\' check before the wire)', () => {
  const base = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

  it('returns the request itself, neither copied nor remembered: a later change is checked again', () => {
    const mine = { ...base, temperature: 1, vendor_field: { a: 1 } };
    expect(checkRequestToSend(mine)).toBe(mine);
    mine.temperature = 7;
    expect(() => checkRequestToSend(mine)).toThrow(expect.objectContaining({ code: 'invalid-request', path: 'temperature' }));
  });

  it("throws parseRequest's invalid-request error, word for word", () => {
    const bad = { ...base, messages: [{ role: 'robot', content: 'hi' }], max_tokens: 0 };
    const thrown = (check: (input: unknown) => unknown) => {
      try {
        check(bad);
      } catch (error) {
        return error as RxllmError;
      }
      throw new Error('no error');
    };
    const error = thrown(checkRequestToSend);
    expect(error).toMatchObject({ code: 'invalid-request', path: 'messages.0.role' });
    expect(error.message).toBe(thrown(parseRequest).message);
  });

  it('a request parseRequest returned is a lookup', () => {
    const checked = parseRequest({ ...base });
    expect(checkRequestToSend(checked)).toBe(checked);
  });
});
