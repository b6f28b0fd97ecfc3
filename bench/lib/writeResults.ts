import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Writes a benchmark's results, with the machine they were measured on (and how busy it was),
 * to bench/results/<name>.json.
 */
export function writeResults(name: string, results: unknown): string {
  // Works from the sources (ts-node) and from the compiled copy in bench/.out/bench alike.
  let root = __dirname;
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', loadAverage1m: Math.round(loadavg()[0]! * 100) / 100 };
  writeFileSync(file, JSON.stringify({ name, measuredAt: new Date().toISOString(), machine, results }, null, 2) + '\n');
  return file;
}
