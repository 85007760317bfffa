import { charLength, cleanText, hasControlChars, stripControlChars } from '../../src/domain/shared/text';

describe('stripControlChars', () => {
  test('removes every C0 control but tab and newline, DEL and every C1 control', () => {
    for (let cp = 0; cp <= 0x9f; cp++) {
      const ch = String.fromCodePoint(cp);
      const kept = cp === 0x09 || cp === 0x0a || (cp >= 0x20 && cp < 0x7f);
      expect([cp, stripControlChars(`a${ch}b`)]).toEqual([cp, kept ? `a${ch}b` : cp === 0x0d ? 'a\nb' : 'ab']);
    }
  });

  test('turns CRLF and a lone CR into LF', () => {
    expect(stripControlChars('a\r\nb\rc\n\rd')).toBe('a\nb\nc\n\nd');
  });

  test('removes lone surrogates, keeps pairs', () => {
    expect(stripControlChars('a\ud800b\udc00c\udc00\ud800d')).toBe('abcd');
    expect(stripControlChars('😀 \ud83d\ude00')).toBe('😀 😀');
  });

  test('removes the noncharacters (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF)', () => {
    const nonchars = [0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe, 0x1ffff, 0x10fffe, 0x10ffff].map((cp) => String.fromCodePoint(cp)).join('');
    expect(stripControlChars(`x${nonchars}y`)).toBe('xy');
  });

  test('keeps ordinary text as given: HTML, format characters, other scripts', () => {
    const text = '<b>&amp;</b> \u200d\u200f\u202e שלום 日本 é e\u0301 \u2028';
    expect(stripControlChars(text)).toBe(text);
  });
});

describe('cleanText', () => {
  const multi = cleanText({ min: 1, max: 5, multiline: true });
  const single = cleanText({ max: 10 });

  test('strips, trims, then checks the length in code points', () => {
    expect(multi.parse('  a\u0000b\n\tc  ')).toBe('ab\n\tc');
    expect(multi.parse('😀😀😀😀😀')).toBe('😀😀😀😀😀');
    expect(multi.safeParse('😀😀😀😀😀😀').success).toBe(false);
    expect(multi.parse(`abcde${'\u0000'.repeat(50)}`)).toBe('abcde');
  });

  test('text of only control characters and spaces is empty: refused when min is 1', () => {
    const r = multi.safeParse('\u0000 \u0001\r\n');
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toBe('must not be empty');
  });

  test('single-line text turns newlines and tabs into spaces', () => {
    expect(single.parse('a\nb\tc\r\nd')).toBe('a b c d');
    expect(single.parse('\u0000')).toBe('');
  });

  test('charLength counts code points', () => {
    expect(charLength('😀a')).toBe(2);
  });
});

describe('hasControlChars', () => {
  test('true for any control (tab, newline, CR included), noncharacter or lone surrogate', () => {
    for (const s of ['a\tb', 'a\nb', 'a\rb', 'a\u0000', '\u007f', '\u0085', '\ufffe', '\ud800']) expect([s, hasControlChars(s)]).toEqual([s, true]);
  });
  test('false for ordinary identifiers', () => {
    for (const s of ['msg-1', 'a b', 'ключ', '😀']) expect([s, hasControlChars(s)]).toEqual([s, false]);
  });
});

describe('cleanText limits, counted in characters after cleaning (TextRule: min, max)', () => {
  const rule = cleanText({ min: 3, max: 5 });
  const messages = (s: string) => rule.safeParse(s).error?.issues.map((i) => i.message) ?? [];

  test('exactly min and exactly max characters pass; an emoji is one character', () => {
    expect(rule.parse('abc')).toBe('abc');
    expect(rule.parse('  😀😀😀 ')).toBe('😀😀😀');
    expect(rule.parse('abcde')).toBe('abcde');
  });

  test('fewer than min: "must be at least <min> characters" (two emoji are 4 UTF-16 units, still 2 characters)', () => {
    expect(messages('ab')).toEqual(['must be at least 3 characters']);
    expect(messages('😀😀')).toEqual(['must be at least 3 characters']);
    expect(messages('a\u0000\u0000b')).toEqual(['must be at least 3 characters']); // what is stored counts
  });

  test('empty with a min: only "must not be empty"', () => {
    expect(messages('  ')).toEqual(['must not be empty']);
  });

  test('over max: "must be at most <max> characters"', () => {
    expect(messages('abcdef')).toEqual(['must be at most 5 characters']);
  });

  test('no min: empty text is accepted', () => {
    expect(cleanText({ max: 5 }).parse('   ')).toBe('');
  });
});
