// The layer rules of src/ (docs/architecture.md explains them): `npm run deps`, run by .ci/run after the
// type-check. Data flows down, never back up: a module imports only its own folder and the folders below it.
// Type-only imports count too: they shape the published .d.ts files, and a type that runs back up is the
// first half of a cycle.

/**
 * What each library folder may import besides itself, bottom to top. A folder not listed here fails the
 * `unknown-folder` rule until it is placed (add it here and to docs/architecture.md).
 */
const BELOW = {
  // The vocabulary: request, events, context, errors, Transport. `internal/` holds helpers any layer uses.
  core: ['internal'],
  internal: ['core'],
  // Foundations, beside each other: each needs only the vocabulary.
  operators: ['core', 'internal'],
  cache: ['core', 'internal'],
  metrics: ['core', 'internal'],
  // Transports: the edge where Promises, fetch and sockets become Observables (the decoders may use operators).
  transport: ['core', 'internal', 'operators'],
  // The simulator ("rxllm/simulator"): its in-process transport maps faults to the transports' HTTP errors.
  simulator: ['core', 'internal', 'operators', 'transport'],
  // What limit() and batch() are built from (the embeddings batcher wraps the embeddings client).
  load: ['core', 'internal', 'operators', 'cache', 'metrics', 'transport'],
  middleware: ['core', 'internal', 'operators', 'cache', 'metrics', 'transport', 'load'],
  pipeline: ['core', 'internal', 'operators', 'cache', 'metrics', 'transport', 'load', 'middleware'],
};
/** The library layers an adapter folder may use: all of them. */
const LIBRARY = ['core', 'internal', 'operators', 'cache', 'metrics', 'simulator', 'transport', 'load', 'middleware', 'pipeline'];
/**
 * Adapters: entry points of their own ("rxllm/openai", "rxllm/node", "rxllm/testing", "rxllm/redis") that
 * use the library and that no library module imports, so their optional peers (openai, ioredis) and
 * their Node-only code stay out of the root entry.
 */
const ADAPTERS = ['openai', 'node', 'testing', 'redis'];

const folders = (names) => `^src/(${names.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle in src/: break it by moving what both files need into a file below both (for the demo, cli/demo/types.ts).',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'library-not-to-cli',
      severity: 'error',
      comment: 'The library must not import the command line or the demo (src/cli/): move what it needs into the library, or the importer into src/cli/.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'not-to-entry-point',
      severity: 'error',
      comment: 'Entry points (src/index.ts, src/<folder>/index.ts) are the top of the library: import the module itself, not its entry point, so an entry point loads only what it needs and no cycle runs through it.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/(index|[^/]+/index)\\.ts$' },
    },
    ...Object.entries(BELOW).map(([folder, below]) => ({
      name: `layer-${folder}`,
      severity: 'error',
      comment: `src/${folder}/ may import only ${below.map((name) => `${name}/`).join(', ')} and itself: an import from a higher layer runs back up (docs/architecture.md, "Layers"). Move the shared piece down, or the importer up.`,
      from: { path: `^src/${folder}/`, pathNot: '^src/[^/]+/index\\.ts$' },
      to: { path: '^src/[^/]+/', pathNot: folders([folder, ...below]) },
    })),
    {
      name: 'layer-adapters',
      severity: 'error',
      comment: `An adapter (${ADAPTERS.map((name) => `${name}/`).join(', ')}) may import the library (${LIBRARY.map((name) => `${name}/`).join(', ')}) and itself, never another adapter: each is its own entry point with its own optional peers.`,
      from: { path: folders(ADAPTERS) },
      to: { path: '^src/[^/]+/', pathNot: [folders(LIBRARY), '^src/$1/'] },
    },
    {
      name: 'unknown-folder',
      severity: 'error',
      comment: 'A folder of src/ that has no place in the layers yet: add it to BELOW or ADAPTERS in .dependency-cruiser.cjs and to docs/architecture.md.',
      from: { path: '^src/[^/]+/', pathNot: folders([...Object.keys(BELOW), ...ADAPTERS, 'cli']) },
      to: { path: '^src/' },
    },
    {
      name: 'optional-peer-openai',
      severity: 'error',
      comment: 'The openai SDK is an optional peer: only src/openai/ (the "rxllm/openai" entry) may import it.',
      from: { path: '^src/', pathNot: '^src/openai/' },
      to: { path: '(^|/)node_modules/openai/' },
    },
    {
      name: 'optional-peer-ioredis',
      severity: 'error',
      comment: 'ioredis is an optional peer: only src/redis/ (the "rxllm/redis" entry) may import it, and src/cli/demo/redisClient.ts (see the next rule).',
      from: { path: '^src/', pathNot: ['^src/redis/', '^src/cli/demo/redisClient\\.ts$'] },
      to: { path: '(^|/)node_modules/ioredis/' },
    },
    {
      // The demo's scale-out section makes its own clients (the library only takes the app's): it loads ioredis
      // with import() when the section runs, so `rxllm demo` starts, and skips that section with one line,
      // where ioredis is not installed. Its types may be imported as types.
      name: 'optional-peer-ioredis-in-cli',
      severity: 'error',
      comment: 'src/cli/demo/redisClient.ts may load ioredis only with a dynamic import() (or import its types): a static import would make `rxllm demo` fail to start without the optional peer.',
      from: { path: '^src/cli/demo/redisClient\\.ts$' },
      to: { path: '(^|/)node_modules/ioredis/', dependencyTypesNot: ['dynamic-import', 'type-only'] },
    },
    {
      name: 'optional-peer-opentelemetry',
      severity: 'error',
      comment: '@opentelemetry/api is an optional peer: only src/metrics/otel.ts may import it, and only its types.',
      from: { path: '^src/' },
      to: { path: '(^|/)node_modules/@opentelemetry/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'optional-peer-opentelemetry-outside-otel',
      severity: 'error',
      comment: '@opentelemetry/api is an optional peer: only src/metrics/otel.ts may import it (its types), so no other module needs it installed.',
      from: { path: '^src/', pathNot: '^src/metrics/otel\\.ts$' },
      to: { path: '(^|/)node_modules/@opentelemetry/' },
    },
    {
      name: 'no-dev-dependency-in-src',
      severity: 'error',
      comment: 'src/ ships to users, who do not install devDependencies (not even for types: the .d.ts files would not compile): use a dependency or an optional peer instead.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['npm-peer'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too (see the top of this file).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
