#!/usr/bin/env node
/*
 * The numbers the README quotes come from a run, not from a keyboard. This script runs the README's quick
 * start (the TypeScript block after `<!-- quickstart -->`) exactly as written, against the BUILT package as
 * an app imports it, and writes what it printed into the README's marked region:
 *
 *   <!-- figures:quickstart -->
 *   ```text
 *   …the output…
 *   ```
 *   <!-- /figures -->
 *
 * Run `npm run build` first. The quick start runs on the simulator (seeded delays, no key, no network), so its
 * answers and step times repeat from run to run and only the wall times move by a few milliseconds.
 *
 *   node scripts/readme-figures.mjs            run it and rewrite the region in README.md
 *   node scripts/readme-figures.mjs --print    run it and print the output; README.md is left alone
 *   node scripts/readme-figures.mjs --check    only check that every region is present and filled (no run)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const readmePath = join(root, 'README.md');
const args = process.argv.slice(2);

/** The figures regions: each names the marked block whose output fills it. */
const REGIONS = ['quickstart'];

/** The code of the first TypeScript block after `<!-- name -->`, and its line in README.md (1-based). */
function markedBlock(readme, name) {
  const lines = readme.split('\n');
  const marker = lines.findIndex((line) => line.trim() === `<!-- ${name} -->`);
  if (marker === -1) throw new Error(`README.md has no <!-- ${name} --> marker before a TypeScript block`);
  const open = lines.findIndex((line, i) => i > marker && /^```(ts|typescript)\s*$/.test(line.trim()));
  const close = lines.findIndex((line, i) => i > open && line.trim() === '```');
  if (open === -1 || close === -1) throw new Error(`no complete \`\`\`ts block after <!-- ${name} --> in README.md`);
  return { code: lines.slice(open + 1, close).join('\n'), line: open + 2 };
}

const regionPattern = (name) => new RegExp(`(<!-- figures:${name} -->\\n)([\\s\\S]*?)(<!-- /figures -->)`);

/** Runs a TypeScript block as an ES module in a scratch app where `rxllm` is this package (through its "exports"). */
function runBlock(code) {
  if (!existsSync(join(root, 'dist', 'esm', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (the quick start runs against the built package)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'rxllm-figures-'));
  try {
    const modules = join(dir, 'node_modules');
    mkdirSync(modules);
    const installed = realpathSync(join(root, 'node_modules'));
    for (const name of readdirSync(installed)) {
      if (name !== '.bin' && name !== 'rxllm') symlinkSync(join(installed, name), join(modules, name), 'dir');
    }
    symlinkSync(root, join(modules, 'rxllm'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'readme-figures', private: true, type: 'module' }));
    // Types are erased, nothing else changes: what runs is what a reader pastes (the block checker type-checks it).
    const js = ts.transpileModule(code, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, verbatimModuleSyntax: false },
    }).outputText;
    writeFileSync(join(dir, 'quickstart.mjs'), js);
    return execFileSync(process.execPath, [join(dir, 'quickstart.mjs')], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: '1' },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const readme = readFileSync(readmePath, 'utf8');

if (args.includes('--check')) {
  const problems = REGIONS.flatMap((name) => {
    const match = regionPattern(name).exec(readme);
    if (!match) return [`README.md has no <!-- figures:${name} --> … <!-- /figures --> region`];
    return match[2].includes('```text') ? [] : [`the figures:${name} region is empty: run \`node scripts/readme-figures.mjs\``];
  });
  for (const problem of problems) console.error(`readme-figures: ${problem}`);
  if (problems.length) process.exit(1);
  console.log(`readme-figures: ${REGIONS.length} region(s) present and filled`);
  process.exit(0);
}

let updated = readme;
for (const name of REGIONS) {
  const block = markedBlock(readme, name);
  const output = runBlock(block.code).replace(/\s+$/, '');
  if (args.includes('--print')) {
    console.log(output);
    continue;
  }
  if (!regionPattern(name).test(updated)) throw new Error(`README.md has no <!-- figures:${name} --> … <!-- /figures --> region`);
  updated = updated.replace(regionPattern(name), (_all, open, _old, close) => `${open}\`\`\`text\n${output}\n\`\`\`\n${close}`);
}
if (!args.includes('--print')) {
  writeFileSync(readmePath, updated);
  console.log(`readme-figures: ran ${REGIONS.join(', ')} and rewrote its region in README.md`);
}
