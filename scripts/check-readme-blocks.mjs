#!/usr/bin/env node
/*
 * Type-checks every TypeScript code block of README.md and every .md file under docs/ (the guides under docs/guides/
 * included; the generated API reference in docs/api/ left out) against the BUILT package, as a
 * user who pastes it would compile it: each block is its own ES module (top-level await allowed) in a
 * scratch project where `rxllm` is installed (a link to this package, resolved through its "exports"
 * to dist/), under `moduleResolution: node16`, strict. Run `npm run build` first.
 *
 * Markers, on the line just before the opening fence (or as a word after the language: ```ts fragment):
 *   <!-- fragment -->   a deliberate excerpt (free names, `...`): listed, not checked
 *   <!-- continues -->  checked together with the checked block before it in the same file (its
 *                       imports and names are in scope), e.g. a graph built from the steps above
 *
 * Prints one line per block (checked / fragment / continues) and each error at its line in the .md file.
 * Exits 1 on any error, or if a block's language is TypeScript and it has neither code nor a marker.
 *
 *   node scripts/check-readme-blocks.mjs [--list] [file.md ...]
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TS_LANGS = new Set(['ts', 'typescript', 'mts', 'cts', 'tsx']);

const args = process.argv.slice(2);
const listOnly = args.includes('--list');
const named = args.filter((arg) => !arg.startsWith('--'));
const docs = join(root, 'docs');
/** Every .md file under `folder`, sorted, recursively; docs/api is TypeDoc's output (git-ignored), not written docs. */
function markdownUnder(folder) {
  if (!existsSync(folder)) return [];
  return readdirSync(folder, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) return path === join(docs, 'api') ? [] : markdownUnder(path);
      return entry.name.endsWith('.md') ? [path] : [];
    });
}
const markdownFiles = named.length ? named.map((file) => resolve(file)) : [join(root, 'README.md'), ...markdownUnder(docs)];

/** @typedef {{ file: string, line: number, code: string[], kind: 'checked' | 'fragment' | 'continues', parts: { line: number, count: number }[] }} Block */

/** The TypeScript blocks of one markdown file, with their markers. */
function blocksOf(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  /** @type {Block[]} */
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open;
    const end = lines.findIndex((line, j) => j > i && line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '');
    const close = end === -1 ? lines.length : end;
    if (TS_LANGS.has(lang.toLowerCase())) {
      let before = i - 1;
      while (before >= 0 && lines[before].trim() === '') before--;
      const marker = before >= 0 ? /^<!--\s*(fragment|continues)\s*-->$/.exec(lines[before].trim())?.[1] : undefined;
      const kind = /\bfragment\b/.test(rest) ? 'fragment' : (marker ?? 'checked');
      const code = lines.slice(i + 1, close).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
      blocks.push({ file, line: i + 2, code, kind, parts: [] });
    }
    i = close;
  }
  return blocks;
}

const blocks = markdownFiles.flatMap(blocksOf);
const rel = (file) => relative(root, file);

// Relative links to files that do not exist are reported on stderr, never failed on: a page written on another
// branch (linked ahead of its merge) must not break the check.
const missingLinks = new Set();
for (const file of markdownFiles) {
  const prose = readFileSync(file, 'utf8').replace(/^(\s*)(`{3,}|~{3,})[\s\S]*?^\1\2\s*$/gm, '');
  for (const [, target] of prose.matchAll(/\]\(([^)\s#]+)(?:#[^)\s]*)?\)/g)) {
    if (/^[a-z][a-z+.-]*:/i.test(target)) continue;
    if (!existsSync(resolve(dirname(file), target))) missingLinks.add(`note: ${rel(file)} links to ${target}, which does not exist (yet)`);
  }
}
for (const note of missingLinks) console.error(note);

if (listOnly) {
  for (const block of blocks) console.log(`${rel(block.file)}:${block.line - 1}  ${block.kind}`);
  process.exit(0);
}

if (!existsSync(join(root, 'dist', 'esm', 'index.d.ts'))) {
  console.error('check-readme-blocks: dist/ is missing; run `npm run build` first (the blocks are checked against the built package).');
  process.exit(1);
}

// A scratch app: node_modules links every installed package, and `rxllm` links this package (so it
// resolves through package.json "exports", as after `npm install rxllm`).
const dir = mkdtempSync(join(tmpdir(), 'rxllm-docs-'));
const modules = join(dir, 'node_modules');
mkdirSync(modules);
const installed = realpathSync(join(root, 'node_modules'));
for (const name of readdirSync(installed)) {
  if (name === '.bin' || name === 'rxllm') continue;
  symlinkSync(join(installed, name), join(modules, name), 'dir');
}
symlinkSync(root, join(modules, 'rxllm'), 'dir');
writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-check', private: true, type: 'module' }));

// Each checked block is a file; a "continues" block is the checked chain before it plus its own lines.
const sources = [];
let chain = null;
let previousFile = null;
for (const block of blocks) {
  if (block.file !== previousFile) chain = null;
  previousFile = block.file;
  if (block.kind === 'fragment') continue;
  if (block.kind === 'continues' && !chain) {
    console.error(`${rel(block.file)}:${block.line - 1}: <!-- continues --> but no checked block before it in this file`);
    process.exitCode = 1;
    continue;
  }
  const parts = block.kind === 'continues' ? [...chain.parts, { block, lines: block.code }] : [{ block, lines: block.code }];
  chain = { parts };
  const name = `block-${sources.length + 1}.mts`;
  // `export {}` makes a block without imports a module too, so blocks never share names.
  const text = [...parts.flatMap((part) => part.lines), 'export {};', ''].join('\n');
  writeFileSync(join(dir, name), text);
  sources.push({ name, block, parts });
}

const options = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  esModuleInterop: true,
  types: ['node', 'jest'], // a test snippet may use jest's globals
  typeRoots: [join(modules, '@types')],
};
const program = ts.createProgram(
  sources.map((source) => join(dir, source.name)),
  options,
  ts.createCompilerHost(options),
);

/** A line of a scratch file, as file:line of the markdown it came from. */
function origin(source, line) {
  let at = line;
  for (const part of source.parts) {
    if (at < part.lines.length) return `${rel(part.block.file)}:${part.block.line + at}`;
    at -= part.lines.length;
  }
  return `${rel(source.block.file)}:${source.block.line}`;
}

const errorsBySource = new Map();
for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n    ');
  const source = diagnostic.file && sources.find((s) => join(dir, s.name) === resolve(diagnostic.file.fileName));
  if (!source) {
    console.error(`error TS${diagnostic.code}: ${message}`);
    process.exitCode = 1;
    continue;
  }
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
  const list = errorsBySource.get(source) ?? [];
  list.push(`  ${origin(source, line)}: error TS${diagnostic.code}: ${message}`);
  errorsBySource.set(source, list);
}

let failed = 0;
for (const block of blocks) {
  const source = sources.find((s) => s.block === block);
  const errors = source ? (errorsBySource.get(source) ?? []) : [];
  const status = block.kind === 'fragment' ? 'fragment (not checked)' : errors.length ? `FAILED (${errors.length})` : block.kind === 'continues' ? 'ok (continues the block before)' : 'ok';
  console.log(`${rel(block.file)}:${block.line - 1}  ${status}`);
  for (const error of errors) console.log(error);
  if (errors.length) failed++;
}
const checked = blocks.filter((b) => b.kind !== 'fragment').length;
console.log(`${blocks.length} TypeScript blocks: ${checked} checked (${failed} failed), ${blocks.length - checked} fragments`);
rmSync(dir, { recursive: true, force: true });
if (failed) process.exitCode = 1;
