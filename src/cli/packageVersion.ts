import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The version in rxllm's own package.json, found by walking up from `from` (by default this file's
 * folder: src/cli in a checkout, dist/cjs/cli or dist/esm/cli when built, so no fixed depth).
 * Undefined when no package.json named `rxllm` is above it.
 */
export function packageVersion(from: string = here()): string | undefined {
  for (let folder = from; ; folder = dirname(folder)) {
    try {
      const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'rxllm' && manifest.version) return manifest.version;
    } catch {
      // No (readable) package.json here: keep climbing.
    }
    if (dirname(folder) === folder) return undefined;
  }
}

function here(): string {
  // CommonJS has __dirname; the ES module build does not, and runs only as the script itself.
  return typeof __dirname === 'string' ? __dirname : dirname(realpathSync(process.argv[1] ?? '.'));
}
