import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * Sums V8 CPU profiles (`.cpuprofile`, as BENCH_CPU_PROF writes them) by self time: totals by
 * layer of the request path (express and middleware, Apollo, graphql-js, the ORM...), the top
 * functions with their file and line, and totals by package (the npm package a file is in, or for
 * this project's compiled code its folder under src/, or node's core, native code, GC):
 *
 *   node dist/bench/profile-summary.js [--top 25] [--per <operations>] <file.cpuprofile>...
 *
 * Several files are summed together. Shares are of the busy time (the profile's time less
 * `(idle)`: V8 samples by wall clock, so on a machine short of cores busy time includes waits for
 * one, and exceeds the process's CPU time); with `--per N` each figure is also given in ms per operation (N operations in all).
 * Last, this project's own functions by inclusive time (theirs and all they called): where in
 * src/ the time starts.
 * Prints Markdown tables on stdout.
 */

/** The parts of a V8 CPU profile used here. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time (µs) of a function or a package. */
export interface SelfTime {
  name: string;
  /** Where: the file (relative to node_modules or the project) and 1-based line; empty for V8's own entries. */
  where: string;
  package: string;
  micros: number;
}

/**
 * What a profile's time went to: µs in all, idle, and self time per function and per package
 * (largest first). A package's `withCalleesMicros` adds the node-core and native code it called
 * (charged to the nearest caller in a package: a `pg` socket write's `writeBuffer` is pg's).
 */
export interface ProfileSummary {
  totalMicros: number;
  idleMicros: number;
  functions: SelfTime[];
  packages: { package: string; micros: number; withCalleesMicros: number }[];
  /** This project's functions (src/) by inclusive time: theirs and everything they called (recursion counted once). */
  ourInclusive: SelfTime[];
}

/** Node core and native code: charged to their caller's package in `withCalleesMicros`. */
const runtime = (pkg: string) => pkg === 'node (core)' || pkg === '(native)';

/** V8's own entries of a profile (no script). */
const SPECIAL = new Set(['(root)', '(idle)', '(program)', '(garbage collector)']);

/**
 * The package a script URL belongs to: the innermost `node_modules/<name>` (or `@scope/name`),
 * `src/<folder>[/<folder>]` for this project's compiled code (dist/src), `bench`, `node (core)`
 * for node: URLs, `(native)` for code without a URL (V8 builtins, bindings), or the special
 * entries `(idle)`, `(program)`, `(garbage collector)` as they are.
 */
export function packageOf(url: string, functionName: string): string {
  if (!url) return SPECIAL.has(functionName) ? functionName : '(native)';
  if (url.startsWith('node:') || !url.includes('/')) return 'node (core)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const src = url.indexOf('/dist/src/');
  if (src >= 0) {
    const dirs = url
      .slice(src + '/dist/src/'.length)
      .split('/')
      .slice(0, -1);
    return ['src', ...dirs.slice(0, 2)].join('/');
  }
  if (url.includes('/dist/bench/')) return 'bench';
  return 'other';
}

/** A URL shortened to what follows its last `node_modules/`, or to the path under the project's `dist/`. */
function shortFile(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/**
 * Self time per function and per package of `profiles` summed. A sample's time is the interval
 * until the next sample (the last one of a profile: the mean interval); the total is the sum of the
 * samples' times (not endTime - startTime, which also counts the wait for the first sample).
 */
export function summariseProfiles(profiles: CpuProfile[]): ProfileSummary {
  const byFunction = new Map<string, SelfTime>();
  const charged = new Map<string, number>();
  const inclusive = new Map<string, SelfTime>();
  let totalMicros = 0;
  for (const p of profiles) {
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const pkgOf = (id: number) => {
      const { url, functionName } = nodes.get(id)!.callFrame;
      return packageOf(url, functionName || '(anonymous)');
    };
    /** The package a node's self time is charged to: its own, or for runtime code the nearest caller's outside the runtime. */
    const owner = new Map<number, string>();
    const ownerOf = (id: number): string => {
      let o = owner.get(id);
      if (o === undefined) {
        const own = pkgOf(id);
        const up = parent.get(id);
        const above = up === undefined ? '(root)' : pkgOf(up);
        if (!runtime(own) || above === '(root)') o = own;
        else if (runtime(above)) o = ownerOf(up!);
        else o = above;
        owner.set(id, o);
      }
      return o;
    };
    const intervals = p.timeDeltas.slice(1);
    const mean = intervals.length ? intervals.reduce((a, b) => a + b, 0) / intervals.length : 0;
    for (let i = 0; i < p.samples.length; i++) {
      const micros = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1] : mean;
      totalMicros += micros;
      const { functionName, url, lineNumber } = nodes.get(p.samples[i])!.callFrame;
      const name = functionName || '(anonymous)';
      const where = url ? `${shortFile(url)}:${lineNumber + 1}` : '';
      const key = `${name}\u0000${where}`;
      const entry = byFunction.get(key) ?? { name, where, package: packageOf(url, name), micros: 0 };
      entry.micros += micros;
      byFunction.set(key, entry);
      const o = ownerOf(p.samples[i]);
      charged.set(o, (charged.get(o) ?? 0) + micros);
      const seen = new Set<string>();
      for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) {
        const f = nodes.get(id)!.callFrame;
        const pkg = packageOf(f.url, f.functionName || '(anonymous)');
        if (!pkg.startsWith('src')) continue;
        const w = `${shortFile(f.url)}:${f.lineNumber + 1}`;
        const k = `${f.functionName || '(anonymous)'}\u0000${w}`;
        if (seen.has(k)) continue;
        seen.add(k);
        const e = inclusive.get(k) ?? { name: f.functionName || '(anonymous)', where: w, package: pkg, micros: 0 };
        e.micros += micros;
        inclusive.set(k, e);
      }
    }
  }
  const functions = [...byFunction.values()].sort((a, b) => b.micros - a.micros);
  const byPackage = new Map<string, number>();
  for (const f of functions) byPackage.set(f.package, (byPackage.get(f.package) ?? 0) + f.micros);
  const packages = [...new Set([...byPackage.keys(), ...charged.keys()])]
    .map((pkg) => ({ package: pkg, micros: byPackage.get(pkg) ?? 0, withCalleesMicros: charged.get(pkg) ?? 0 }))
    .sort((a, b) => b.micros - a.micros);
  const ourInclusive = [...inclusive.values()].sort((a, b) => b.micros - a.micros);
  return { totalMicros, idleMicros: byPackage.get('(idle)') ?? 0, functions, packages, ourInclusive };
}

/**
 * The request path's layers, by npm package (self time with the node core and native code each
 * called): the HTTP server and its middleware, the socket transport, Apollo, graphql-js,
 * TypeGraphQL, the ORM, the query builder, the driver, input validation. Packages not named here
 * are listed by name.
 */
const LAYERS: Record<string, string[]> = {
  'express and its middleware (helmet, cors, pino-http, body-parser...; the node:http writes they make)': [
    'express',
    'router',
    'body-parser',
    'raw-body',
    'content-type',
    'type-is',
    'mime-types',
    'mime-db',
    'negotiator',
    'etag',
    'cors',
    'helmet',
    'pino-http',
    'pino',
    'pino-std-serializers',
    'on-finished',
    'parseurl',
    'forwarded',
    '@as-integrations/express5',
    'iconv-lite',
    'media-typer',
    'whatwg-mimetype',
    'graphql-upload-ts',
    'finalhandler',
    'send',
    'fresh',
    'accepts',
    'vary',
    'proxy-addr',
    'qs',
    'statuses',
    'http-errors',
    'depd',
    'encodeurl',
    'escape-html',
    'cookie',
    'bytes',
    'path-to-regexp',
  ],
  'graphql-ws and ws': ['ws', 'graphql-ws'],
  '@apollo/server': ['@apollo/server', '@apollo/utils.keyvaluecache', '@apollo/utils.createhash', '@apollo/utils.usagereporting', 'lru-cache'],
  'graphql-js (parse, validate, execute)': ['graphql', 'dataloader'],
  'type-graphql': ['type-graphql', 'class-validator', 'reflect-metadata', 'tslib'],
  MikroORM: ['@mikro-orm/core', '@mikro-orm/knex', '@mikro-orm/postgresql'],
  'knex (and its lodash, tarn pool)': ['knex', 'tarn', 'lodash', 'debug', 'sqlstring'],
  'pg (driver)': ['pg', 'pg-protocol', 'pg-types', 'postgres-date', 'postgres-array', 'postgres-bytea', 'postgres-interval', 'pg-pool'],
  'zod (input validation)': ['zod'],
  'jose (JWT)': ['jose'],
  'rate limits and metrics': ['rate-limiter-flexible', 'prom-client', 'tdigest', 'bintrees'],
};

/** A summary's packages grouped into {@link LAYERS} (µs with callees, largest first); ours as `src/`, the rest by package. */
export function layersOf(summary: ProfileSummary): { layer: string; micros: number }[] {
  const byLayer = new Map<string, number>();
  for (const p of summary.packages) {
    if (p.package === '(idle)') continue;
    const layer =
      Object.keys(LAYERS).find((k) => LAYERS[k].includes(p.package)) ??
      (p.package.startsWith('src') ? 'our code (src/)' : runtime(p.package) ? 'node core and native code not called from a package' : p.package);
    byLayer.set(layer, (byLayer.get(layer) ?? 0) + p.withCalleesMicros);
  }
  return [...byLayer].map(([layer, micros]) => ({ layer, micros })).sort((a, b) => b.micros - a.micros);
}

function main(argv: string[]): void {
  let top = 25;
  let per = 0;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--top') top = Number(argv[++i]);
    else if (argv[i] === '--per') per = Number(argv[++i]);
    else files.push(argv[i]);
  }
  if (!files.length) {
    console.error('usage: node dist/bench/profile-summary.js [--top 25] [--per <operations>] <file.cpuprofile>...');
    process.exit(2);
  }
  const s = summariseProfiles(files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as CpuProfile));
  const busy = s.totalMicros - s.idleMicros;
  const ms = (us: number) => (us / 1000).toFixed(1);
  const share = (us: number) => `${((100 * us) / busy).toFixed(1)}%`;
  const perOp = (us: number) => (per ? ` | ${(us / 1000 / per).toFixed(3)}` : '');
  const perHead = per ? ' | ms per operation' : '';
  const perRule = per ? '|---' : '';
  console.log(
    `${files.map((f) => basename(f)).join(', ')}: ${ms(s.totalMicros)} ms profiled, ${ms(busy)} ms busy (not idle)${per ? `, ${per} operations: ${(busy / 1000 / per).toFixed(3)} ms busy per operation` : ''}`,
  );
  console.log(`\n| layer (self time, with the node core and native code it called) | ms | share of busy${perHead} |\n|---|---|---${perRule}|`);
  for (const l of layersOf(s)) if (l.micros > 0) console.log(`| ${l.layer} | ${ms(l.micros)} | ${share(l.micros)}${perOp(l.micros)} |`);
  console.log(
    `\n| self time by package | ms | share of busy${perHead} | with the node core and native code it called: ms | share${perHead} |\n|---|---|---${perRule}|---|---${perRule}|`,
  );
  for (const p of s.packages)
    if (p.package !== '(idle)')
      console.log(
        `| ${p.package} | ${ms(p.micros)} | ${share(p.micros)}${perOp(p.micros)} | ${ms(p.withCalleesMicros)} | ${share(p.withCalleesMicros)}${perOp(p.withCalleesMicros)} |`,
      );
  console.log(`\n| top ${top} functions by self time | file:line | package | ms | share of busy${perHead} |\n|---|---|---|---|---${perRule}|`);
  for (const f of s.functions.filter((x) => x.package !== '(idle)').slice(0, top))
    console.log(`| ${f.name} | ${f.where} | ${f.package} | ${ms(f.micros)} | ${share(f.micros)}${perOp(f.micros)} |`);
  console.log(`\n| top ${top} of our functions (src/) by inclusive time | file:line | ms | share of busy${perHead} |\n|---|---|---|---${perRule}|`);
  for (const f of s.ourInclusive.slice(0, top)) console.log(`| ${f.name} | ${f.where} | ${ms(f.micros)} | ${share(f.micros)}${perOp(f.micros)} |`);
}

if (require.main === module) main(process.argv.slice(2));
