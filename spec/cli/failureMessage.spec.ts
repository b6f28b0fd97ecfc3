import { RxllmError } from '../../src/core/errors';
import { failureMessage } from '../../src/cli/failureMessage';

describe('failureMessage', () => {
  it('says a refused connection in the CLI’s words: where nothing listens, and what to do', () => {
    const refused = new RxllmError('connection-refused', 'Nothing accepted the connection to http://127.0.0.1:9/v1/chat/completions (ECONNREFUSED): ...');
    expect(failureMessage(refused, 'http://127.0.0.1:9/v1')).toBe(
      'connection-refused: nothing is listening at http://127.0.0.1:9/v1. Start the server there, or point OPENAI_BASE_URL at one that runs (unset, with no key, the built-in simulator answers).',
    );
  });

  it('any other rxllm error as code: message; a plain error as its message', () => {
    expect(failureMessage(new RxllmError('connection-lost', 'The connection was lost mid-answer.'), 'x')).toBe('connection-lost: The connection was lost mid-answer.');
    expect(failureMessage(new Error('boom'), 'x')).toBe('boom');
    expect(failureMessage('odd', 'x')).toBe('odd');
  });
});
