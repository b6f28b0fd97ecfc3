import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageVersion } from '../../src/cli/packageVersion';

describe('packageVersion', () => {
  it("finds rxllm's package.json above any folder, whatever the depth (src/cli, dist/cjs/cli)", () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(packageVersion()).toBe(version);
    expect(packageVersion(join(__dirname, '..', '..', 'dist', 'cjs', 'cli'))).toBe(version);
  });

  it('is undefined where no rxllm package.json is above', () => {
    expect(packageVersion(mkdtempSync(join(tmpdir(), 'rxllm-version-')))).toBeUndefined();
  });
});
