import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runRxllm } from '../../src/cli/rxllm';
import { captureIo } from '../helpers/captureIo';

const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

describe('rxllm', () => {
  it('--version prints the version from package.json', async () => {
    const run = captureIo();
    expect(await runRxllm(['--version'], run.io)).toBe(0);
    expect(run.stdout()).toBe(`${version}\n`);
  });

  it.each(['demo', 'chat', 'serve'])('help %s prints that command’s own help, not the top-level one', async (command) => {
    const run = captureIo();
    expect(await runRxllm(['help', command], run.io)).toBe(0);
    expect(run.stdout().startsWith(`rxllm ${command} [options]`)).toBe(true);
    expect(run.stdout()).toContain('--help');
  });

  it('help alone and --help print the commands; no command at all is a usage error on stderr', async () => {
    const help = captureIo();
    expect(await runRxllm(['help'], help.io)).toBe(0);
    expect(help.stdout()).toContain('rxllm help [COMMAND]');
    const none = captureIo();
    expect(await runRxllm([], none.io)).toBe(2);
    expect(none.stdout()).toBe('');
    expect(none.stderr()).toContain('rxllm demo [options]');
  });

  it('an unknown command or option names itself and the commands, in one line', async () => {
    const command = captureIo();
    expect(await runRxllm(['dmeo'], command.io)).toBe(2);
    expect(command.stderr()).toBe('rxllm: unknown command "dmeo". Commands: demo, chat, serve (rxllm help lists them)\n');
    const option = captureIo();
    expect(await runRxllm(['--bogus'], option.io)).toBe(2);
    expect(option.stderr()).toContain('rxllm: unknown option --bogus.');
    const help = captureIo();
    expect(await runRxllm(['help', 'dmeo'], help.io)).toBe(2);
  });
});
