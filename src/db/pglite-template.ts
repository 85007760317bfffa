import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * A migrated, empty PGlite data directory made at `npm run build` (scripts/build-pglite-template.js),
 * so that a new embedded database (a first start, and every test server's in-memory one) loads it
 * (about 0.3 s) instead of running PostgreSQL's initdb in WASM and every migration (about 2 s).
 * It is only a shortcut: without it, or when it does not match, the database is made the slow way.
 */
export interface PgliteTemplate {
  /** The data directory as PGlite's uncompressed tarball (`dumpDataDir('none')`). */
  tarball: Blob;
  /** The migrations it has applied, in order. */
  migrations: string[];
}

/** What the template was made with: PGlite's version and each migration's name and source hash. */
interface Manifest {
  pglite: string;
  migrations: { name: string; sha256: string | null }[];
}

/** The folder holding package.json (src/db and dist/src/db alike). */
function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** dist/pglite-template/{datadir.tar, manifest.json} under the project root. */
export function templateDir(root = projectRoot()): string {
  return join(root, 'dist', 'pglite-template');
}

function pgliteVersion(root: string): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string }).version;
}

/** sha256 of migrations/<name>.ts when the sources are there (a checkout), else null (a built image: dist and template come from one build). */
function sourceHash(root: string, name: string): string | null {
  const file = join(root, 'migrations', `${name}.ts`);
  return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : null;
}

let cached: { key: string; template: PgliteTemplate | null } | undefined;

/**
 * The build's template when it matches this code: the same PGlite version, and migrations that
 * are the first ones of `migrationNames` (same names and, where the sources exist, the same
 * source), so the migrator only has the newer ones left. Read once per process. Null otherwise.
 */
export function pgliteTemplate(migrationNames: readonly string[]): PgliteTemplate | null {
  const key = migrationNames.join('\n');
  if (cached?.key === key) return cached.template;
  let template: PgliteTemplate | null = null;
  try {
    const root = projectRoot();
    const dir = templateDir(root);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const matches =
      manifest.pglite === pgliteVersion(root) &&
      manifest.migrations.length <= migrationNames.length &&
      manifest.migrations.every((m, i) => {
        if (m.name !== migrationNames[i]) return false;
        const now = sourceHash(root, m.name);
        return now === null || m.sha256 === null || now === m.sha256;
      });
    if (matches) template = { tarball: new Blob([readFileSync(join(dir, 'datadir.tar'))]), migrations: manifest.migrations.map((m) => m.name) };
  } catch {
    template = null;
  }
  cached = { key, template };
  return template;
}

/**
 * Writes a template (the tarball of a freshly migrated data directory) for {@link pgliteTemplate}
 * to find; each file is written next to its place and renamed, so a reader never sees half of one.
 */
export async function writePgliteTemplate(tarball: Blob, migrationNames: readonly string[], root = projectRoot()): Promise<string> {
  const dir = templateDir(root);
  mkdirSync(dir, { recursive: true });
  const manifest: Manifest = { pglite: pgliteVersion(root), migrations: migrationNames.map((name) => ({ name, sha256: sourceHash(root, name) })) };
  const write = (file: string, data: Buffer | string) => {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  };
  // The manifest last: a reader that finds the new manifest finds the new tarball too.
  write(join(dir, 'datadir.tar'), Buffer.from(await tarball.arrayBuffer()));
  write(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}
