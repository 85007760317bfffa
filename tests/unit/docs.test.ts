import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The documentation (issue 30, item 7): README.md fits a screen (under about 200 lines) and opens
 * with the two commands; the reference lives in docs/, each page with its own table of contents,
 * every page reachable from README; every link stays inside the repository and points at a file
 * that exists and, for `#anchors`, at a heading it has (GitHub's heading ids).
 */
const ROOT = resolve(__dirname, '..', '..');
const DOCS = join(ROOT, 'docs');
const pages = [
  'README.md',
  'SECURITY.md',
  'ARCHITECTURE.md',
  ...readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

/** Markdown without fenced code blocks (their `#` lines are no headings, their `[x](y)` no links). */
const prose = (text: string) => text.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, '');

/** GitHub's id for a heading: lower case, punctuation dropped (letters, digits, `-`, `_` and spaces kept), spaces to `-`; repeats get `-1`, `-2`. */
function headingIds(text: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, title] of prose(text).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const base = title
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .trim()
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n ? `${base}-${n}` : base);
  }
  return ids;
}

/** Every inline link target of a page's prose: `[text](target)`. */
const links = (text: string) => [...prose(text).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]);

test('README.md fits a screen and opens with the two commands', () => {
  const readme = read('README.md');
  expect(readme.split('\n').length).toBeLessThanOrEqual(200);
  const first = /```sh\n([\s\S]*?)```/.exec(readme)![1];
  expect(
    first
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/ +#.*$/, '')),
  ).toEqual(['npm ci && npm start', 'npm test']);
});

test.each(pages)('%s: every link stays in the repository and resolves, anchors included', (page) => {
  const broken: string[] = [];
  for (const target of links(read(page))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      // Only this server's own local addresses, never another site.
      if (!/^(https?|wss?):\/\/localhost[:/]/.test(target)) broken.push(`${target} (leaves the repository)`);
      continue;
    }
    const [path, anchor] = target.split('#');
    const file = path ? resolve(dirname(join(ROOT, page)), decodeURI(path)) : join(ROOT, page);
    if (!file.startsWith(ROOT) || !existsSync(file)) {
      broken.push(`${target} (no file ${relative(ROOT, file)})`);
      continue;
    }
    if (anchor !== undefined) {
      if (statSync(file).isDirectory() || !file.endsWith('.md')) {
        broken.push(`${target} (an anchor into a non-Markdown file)`);
        continue;
      }
      if (!headingIds(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${target} (no heading #${anchor})`);
    }
  }
  expect(broken).toEqual([]);
});

test.each(pages.filter((p) => p.startsWith('docs/')))('%s has a table of contents listing its sections, and README links to it', (page) => {
  const text = read(page);
  const contents = /^## Contents\n([\s\S]*?)(?=^## )/m.exec(prose(text));
  expect(contents).not.toBeNull();
  const listed = new Set(links(contents![1]).map((l) => l.replace(/^#/, '')));
  const sections = [...headingIds([...prose(text).matchAll(/^## .+$/gm)].map((m) => m[0]).join('\n'))].filter((id) => id !== 'contents');
  expect(sections.filter((id) => !listed.has(id))).toEqual([]);
  expect(links(read('README.md'))).toContain(page);
});
