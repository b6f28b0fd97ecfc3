#!/usr/bin/env node
// `npm run demo` / `npm run chat` from a checkout: they run the compiled CLI in dist/, which a fresh
// clone does not have yet. Say so in one line instead of Node's MODULE_NOT_FOUND stack.
'use strict';
const { existsSync } = require('node:fs');
const { join, relative } = require('node:path');

const entry = join(__dirname, '..', 'dist', 'cjs', 'cli', 'main.js');
if (!existsSync(entry)) {
  process.stderr.write(`rxllm: no build yet (${relative(process.cwd(), entry) || entry} is missing): run npm run build first, then try again.\n`);
  process.exit(1);
}
require(entry);
