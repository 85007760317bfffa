import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * One domain core, thin adapters (ARCHITECTURE.md; issue 29 item 4): no adapter imports another
 * adapter. The GraphQL API (src/graphql), the REST dialects (src/rest) and the realtime layer
 * (src/realtime) reach what they share through the domain (src/domain) and the read model
 * (src/read-model: the batch loaders and the per-viewer view fields); the domain and the read
 * model import no adapter. The few seams that remain are listed below, each with its reason: a new
 * import across adapters fails this test.
 */
const ROOT = resolve(__dirname, '..', '..');
const SRC = join(ROOT, 'src');
const ADAPTERS = ['graphql', 'rest', 'realtime'] as const;

/** Who may not import whom: the importing folder, the folders it must not reach. */
const FORBIDDEN: Record<string, string[]> = {
  graphql: ['rest', 'realtime'],
  rest: ['graphql', 'realtime'],
  realtime: ['graphql', 'rest'],
  'read-model': [...ADAPTERS],
  domain: [...ADAPTERS, 'read-model'],
};

/** The remaining seams (importing file → imported path prefix, under src/), with their reason. */
const SEAMS: [from: string, to: string, why: string][] = [
  // The GraphQL subscriptions register their topic and audience with the delivery hub.
  ['graphql/resolvers/subscription.resolver.ts', 'realtime/delivery/audiences', 'subscriptions declare their audience'],
  ['graphql/resolvers/subscription.resolver.ts', 'realtime/transports/live', "a subscription's socket (LiveContext)"],
  // graphql-ws is the GraphQL transport: it runs GraphQL operations with their context.
  ['realtime/transports/graphql-ws.ts', 'graphql/context', 'the GraphQL transport'],
  ['realtime/transports/live.ts', 'graphql/context', 'LiveContext extends GraphQLContext'],
  // The composition root builds the contexts of live deliveries (its loaders come from src/read-model).
  ['realtime/index.ts', 'graphql/context', 'contexts of live deliveries'],
  // The seeds' socket frames are the seeds' REST shapes (ARCHITECTURE.md: a legacy frame renders
  // with the dialect's presenters).
  ['realtime/transports/legacy/', 'rest/', "the seeds' presenters"],
];

/** Every .ts/.tsx file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** The relative imports of a source text (static, dynamic, require, re-exports), as written. */
function importsOf(text: string): string[] {
  const found = new Set<string>();
  for (const [, spec] of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) found.add(spec);
  return [...found];
}

/** The imports of `file` (path under src/) that break {@link FORBIDDEN} and are no listed seam. */
function violations(file: string, specs: string[]): string[] {
  const folder = file.split('/')[0];
  const banned = FORBIDDEN[folder] ?? [];
  return specs
    .map((spec) =>
      relative(SRC, resolve(SRC, dirname(file), spec))
        .split('\\')
        .join('/'),
    )
    .filter((target) => banned.includes(target.split('/')[0]))
    .filter((target) => !SEAMS.some(([from, to]) => (from.endsWith('/') ? file.startsWith(from) : file === from) && target.startsWith(to)))
    .map((target) => `${file} imports ${target}`);
}

test('no adapter imports another adapter (nor the domain or the read model an adapter), apart from the listed seams', () => {
  const found = sources(SRC).flatMap((path) => {
    const file = relative(SRC, path).split('\\').join('/');
    return violations(file, importsOf(readFileSync(path, 'utf8')));
  });
  expect(found).toEqual([]);
});

test('the rule bites: the imports this layout removed would fail it', () => {
  expect(violations('rest/common/rest.loaders.ts', importsOf("import { createLoaders } from '../../graphql/loaders';"))).toEqual([
    'rest/common/rest.loaders.ts imports graphql/loaders',
  ]);
  expect(violations('graphql/context.ts', importsOf("import type { LiveSocket } from '../realtime/transports/live';"))).toEqual([
    'graphql/context.ts imports realtime/transports/live',
  ]);
  expect(violations('read-model/views.ts', importsOf("const x = await import('../rest/common/views.helpers');"))).toEqual([
    'read-model/views.ts imports rest/common/views.helpers',
  ]);
  expect(violations('realtime/delivery/hub.ts', importsOf("export { createLoaders } from '../../graphql/loaders';"))).toEqual([
    'realtime/delivery/hub.ts imports graphql/loaders',
  ]);
  // Through the read model is the way.
  expect(violations('rest/common/rest.loaders.ts', importsOf("import { createLoaders } from '../../read-model/loaders';"))).toEqual([]);
});
