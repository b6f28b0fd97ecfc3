import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';

/** Writes a benchmark's results, with the machine they were measured on, to bench/results/<name>.json. */
export function writeResults(name: string, results: unknown): string {
  // Compiled to bench/.out/bench/lib/, so bench/results is three levels up.
  const dir = join(__dirname, '..', '..', '..', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' };
  writeFileSync(file, JSON.stringify({ name, measuredAt: new Date().toISOString(), machine, results }, null, 2) + '\n');
  return file;
}
