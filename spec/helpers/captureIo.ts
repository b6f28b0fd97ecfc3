/** Stand-in stdout / stderr / env for the CLI commands, recording what they write. */
export function captureIo(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, env },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  };
}
