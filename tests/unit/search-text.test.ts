import { searchDocument, tokenize } from '../../src/domain/search/normalize';
import { exactQuery, matchQuery, parseSearchQuery } from '../../src/domain/search/query';
import { highlight } from '../../src/domain/search/highlight';

/** Issue 33: the one normalisation of search (src/domain/search/normalize.ts), its query syntax and highlights. */

test('folds case, Vietnamese diacritics and đ, keeping the exact form beside', () => {
  const [t] = tokenize('ĐƯỜNG');
  expect(t).toMatchObject({ kind: 'word', folded: 'duong', exact: 'đường' });
  expect(searchDocument('tôi được đi học')).toBe(`'toi':1 'tôi':1 'duoc':2 'được':2 'di':3 'đi':3 'hoc':4 'học':4`);
  // Decomposed input (e + combining acute) is the same word.
  expect(tokenize('cafe\u0301')[0]).toMatchObject({ folded: 'cafe', exact: 'café' });
});

test('Arabic yeh/kaf and Persian yeh/keheh are one letter; ZWNJ joins a word', () => {
  expect(tokenize('كتاب')[0].folded).toBe(tokenize('کتاب')[0].folded);
  expect(tokenize('علي')[0].folded).toBe(tokenize('علی')[0].folded);
  expect(tokenize('کتاب\u200cها')).toHaveLength(1);
  expect(tokenize('کتاب\u200cها')[0].folded).toBe(tokenize('کتابها')[0].folded);
  // Original offsets cover the ZWNJ (the content is returned unchanged).
  expect(tokenize('کتاب\u200cها')[0]).toMatchObject({ start: 0, end: 7 });
});

test('CJK runs give every character and every bigram', () => {
  expect(searchDocument('上海东')).toBe(`'上':1 '上海':1 '海':2 '海东':2 '东':3`);
  const tokens = tokenize('バッタと鈴虫 hello');
  expect(tokens.map((t) => t.kind)).toEqual(['cjk', 'word']);
  // Kana voicing marks are not diacritics: が is not か.
  expect(tokenize('が')[0].folded).toBe('が');
  expect(searchDocument('see https://example.com')).toContain(`'has:link'`);
});

test('queries: words, phrases, exclusions, CJK, operators', () => {
  expect(matchQuery(parseSearchQuery('toi duoc'))).toBe(`'toi' & 'duoc'`);
  expect(matchQuery(parseSearchQuery('"exact phrase" -excluded'))).toBe(`('exact' <1> 'phrase') & !'excluded'`);
  expect(matchQuery(parseSearchQuery('猫'))).toBe(`'猫'`);
  expect(matchQuery(parseSearchQuery('上海'))).toBe(`'上海'`);
  expect(matchQuery(parseSearchQuery('上海东'))).toBe(`('上海' <1> '海东')`);
  expect(exactQuery(parseSearchQuery('đường'))).toBe(`'đường'`);
  expect(exactQuery(parseSearchQuery('duong'))).toBeNull();
  const q = parseSearchQuery('from:@Alice in:12 before:2026-02-01 after:2026-01-01 has:link has:image');
  expect(q).toMatchObject({ from: ['alice'], in: ['12'], before: new Date('2026-02-01T00:00:00Z'), after: new Date('2026-01-02T00:00:00Z') });
  expect([...q.has]).toEqual(['link', 'image']);
  // SQL-ish and regex-ish text is only words (bound as parameters anyway).
  expect(matchQuery(parseSearchQuery(`'; drop table messages; -- .*[a-z]+ \\' (?:x)`))).toBe(`'drop' & 'table' & 'messages' & ('a' <1> 'z') & 'x'`);
});

test.each([
  ['before:2026-13-01', /before:/],
  ['after:yesterday', /after:/],
  ['before:2026-02-30', /before:/],
  ['has:video', /has:/],
  ['is:starred', /is:/],
  ['from:', /from:/],
  ['-from:alice', /from:/],
  ['-only', /word/],
  ['.*', /needs/],
  ['', /needs/],
  ['x'.repeat(257), /256/],
  [Array.from({ length: 17 }, (_, i) => `w${i}`).join(' '), /16 terms/],
  [Array.from({ length: 9 }, () => 'has:link').join(' '), /8 operators/],
  ['我'.repeat(40), /at most 32/],
])('refuses %s', (query, message) => {
  expect(() => parseSearchQuery(query)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', message: expect.stringMatching(message) }));
});

test('highlight marks matches in the original text and escapes the rest', () => {
  expect(highlight('<b>Tôi</b> được đi học', parseSearchQuery('toi duoc'))).toBe('&lt;b&gt;<mark>Tôi</mark>&lt;/b&gt; <mark>được</mark> đi học');
  expect(highlight('我家在上海东边。', parseSearchQuery('上海'))).toBe('我家在<mark>上海</mark>东边。');
  expect(highlight('کتاب\u200cها', parseSearchQuery('کتابها'))).toBe('<mark>کتاب\u200cها</mark>');
  const long = `${'a '.repeat(300)}needle ${'b '.repeat(300)}`;
  const h = highlight(long, parseSearchQuery('needle'));
  expect(h).toMatch(/^….*<mark>needle<\/mark>.*…$/);
  expect(h.length).toBeLessThan(340);
});
