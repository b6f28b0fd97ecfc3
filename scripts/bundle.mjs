// `npm run build`, after tsc: the JavaScript that Node loads, bundled with rollup. Node pays per file it loads
// (resolution, a read, a compile, a module record): `require('rxllm')` loaded 73 files and `import('rxllm')` as
// many ES modules. Here each entry point is one file, and the modules that several entry points use go into
// shared chunks (dist/*/shared/), so a class such as RxllmError stays one class whichever entry point a user
// imports it from, and an entry point loads only the chunks of the modules it reaches: the root entry loads no
// simulator, server, CLI or metrics-only code, as before.
//
// Two bundles, both from build/modules (tsc's ES module output of src/, CLI included, without comments: these
// files are for Node to run; dist/esm and the .d.ts files keep every comment for readers):
// - dist/cjs, for `require()`: src/internal/*Class.ts keep their require() at the first call.
// - dist/esm-node, for `import` in Node (the `node` condition): each X.esm.js is taken where X.js is imported
//   (static imports), as scripts/select-esm-variants.js does for dist/esm.
// dist/esm itself stays one file per module: it is what bundlers take (the `default` condition), and they drop
// the modules an app does not use by file, with `sideEffects: false`; inside a merged chunk they could only drop
// what they prove pure (esbuild: the stream consumer of check:size grew from 10.7 to 18.4 KB gzip).
import { rollup } from 'rollup';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const modules = join(root, 'build', 'modules');

// Entry points as package.json's `exports` maps them for `import` (./dist/esm/X.js: the same path X in every half),
// so a new entry point is declared once; and the CLI's.
const { exports: exportsMap } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entries = Object.values(exportsMap).flatMap((target) => /^\.\/dist\/esm\/(.+)\.js$/.exec(target?.import?.default ?? '')?.[1] ?? []);
// The CLI is CommonJS only (`bin`). Its demo forks scaleOutInstance beside the module that forks it, which is
// dist/cjs/cli/main.js once bundled (src/cli/demo/scaleOut.ts).
const cliEntries = { 'cli/main': 'cli/main', 'cli/scaleOutInstance': 'cli/demo/scaleOutInstance' };

// Bare specifiers (rxjs, eventsource-parser, lru-cache, openai, ioredis, node:*) are dependencies, peers or Node's:
// never bundled.
const external = (id) => !id.startsWith('.') && !isAbsolute(id) && !id.startsWith('\0');

// The ES module variant of a module, where there is one: X.esm.js in place of an imported X.js.
const esmVariants = {
  name: 'esm-variants',
  resolveId(source, importer) {
    if (!importer || !source.startsWith('.')) return null;
    const variant = resolve(dirname(importer), source).replace(/\.js$/, '.esm.js');
    return existsSync(variant) ? variant : null;
  },
};

async function bundle(format, to, inputs, plugins = []) {
  const build = await rollup({
    input: Object.fromEntries(Object.entries(inputs).map(([name, path]) => [name, join(modules, `${path}.js`)])),
    external,
    plugins,
    // A warning (a circular chunk, a missing export, an unresolved import) fails the build rather than scroll by.
    onwarn(warning) {
      throw new Error(`bundle (${format}, ${to}): ${warning.message}`);
    },
  });
  await build.write({
    dir: to,
    format,
    entryFileNames: '[name].js',
    chunkFileNames: 'shared/[name].js',
    exports: 'named',
    // As tsc's CommonJS output did: `__esModule`, so an importer's interop sees named exports.
    esModule: true,
    generatedCode: 'es2015',
  });
  await build.close();
}

const same = Object.fromEntries(entries.map((entry) => [entry, entry]));
await bundle('cjs', join(dist, 'cjs'), { ...same, ...cliEntries });
await bundle('es', join(dist, 'esm-node'), same, [esmVariants]);
rmSync(join(root, 'build'), { recursive: true, force: true });
