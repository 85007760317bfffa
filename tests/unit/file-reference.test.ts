import {
  checkDeclaredSize,
  MAX_DECLARED_SIZE,
  MAX_FILE_URL,
  mediaPathKey,
  mimeFromName,
  nameFromUrl,
  parseFileUrl,
} from '../../src/domain/attachment/file-reference';
import { checkFileName } from '../../src/domain/attachment/attachment.service';
import { DomainError } from '../../src/domain/shared/errors';

/**
 * Files sent by reference (seed 003 "2.2 发送消息": `file_url`, `file_name`, `file_size`; docs/graphql-api.md
 * "Uploading files" and docs/rest-compat.md "Seed 003"): `file_url` is an absolute http(s) URL of
 * at most 2048 characters without spaces, control characters or credentials, or this server's
 * `/media/<id>` path; every other scheme is refused, naming it; `file_size` is a whole number of
 * bytes 0..2147483647 or absent; an absent `file_name` is the URL's last path segment; the MIME
 * type of a link is a guess from the name (seed 004's file types among them).
 */

const refusal = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (err) {
    return err instanceof DomainError ? { code: err.code, message: err.message, field: err.field } : `not a DomainError: ${String(err)}`;
  }
};
const refusedUrl = (message: string) => ({ code: 'BAD_USER_INPUT', message, field: 'fileUrl' });

describe('parseFileUrl', () => {
  test('an absolute http(s) URL is kept as a URL (surrounding spaces trimmed)', () => {
    const r = parseFileUrl('  https://example.com/file.jpg  ');
    expect('absolute' in r && r.absolute.href).toBe('https://example.com/file.jpg');
    const h = parseFileUrl('HTTP://Example.com:8080/a/b.pdf?x=1#frag');
    expect('absolute' in h && h.absolute.href).toBe('http://example.com:8080/a/b.pdf?x=1#frag');
  });

  test("this server's /media/ path is kept as a path, its query apart, without the fragment", () => {
    expect(parseFileUrl('/media/12')).toEqual({ path: '/media/12', search: '' });
    expect(parseFileUrl('/media/12/thumbnail?exp=1&sig=abc')).toEqual({ path: '/media/12/thumbnail', search: '?exp=1&sig=abc' });
    expect(parseFileUrl('/media/12?exp=1#top')).toEqual({ path: '/media/12', search: '?exp=1' });
    expect(parseFileUrl('/media/12#top')).toEqual({ path: '/media/12', search: '' });
    // A colon later in the text is no scheme: only one at the very start is.
    expect(parseFileUrl('/media/12?note=a:b')).toEqual({ path: '/media/12', search: '?note=a:b' });
  });

  test.each([[null], [undefined], [''], ['   ']])('%j: required', (value) => {
    expect(refusal(() => parseFileUrl(value))).toEqual(refusedUrl('fileUrl is required for image and file messages'));
  });

  test('not a string: refused', () => {
    expect(refusal(() => parseFileUrl(42))).toEqual(refusedUrl('fileUrl must be a string'));
    expect(refusal(() => parseFileUrl({ href: 'https://example.com/' }))).toEqual(refusedUrl('fileUrl must be a string'));
  });

  test('at most 2048 characters, counted as given and once serialised', () => {
    const base = 'https://example.com/';
    expect(parseFileUrl(base + 'a'.repeat(MAX_FILE_URL - base.length))).toHaveProperty('absolute');
    expect(refusal(() => parseFileUrl(base + 'a'.repeat(MAX_FILE_URL - base.length + 1)))).toEqual(refusedUrl('fileUrl must be at most 2048 characters'));
    // 2048 characters as given, but the URL percent-encodes "é" (6 characters more once serialised).
    const grows = base + 'é'.repeat(2) + 'a'.repeat(MAX_FILE_URL - base.length - 2);
    expect([...grows]).toHaveLength(MAX_FILE_URL);
    expect(refusal(() => parseFileUrl(grows))).toEqual(refusedUrl('fileUrl must be at most 2048 characters'));
    // Characters are code points (an emoji is one), as the text rules count them.
    const emoji = `/media/${'😀'.repeat(MAX_FILE_URL - '/media/'.length)}`;
    expect(emoji.length).toBeGreaterThan(MAX_FILE_URL);
    expect(parseFileUrl(emoji)).toEqual({ path: emoji, search: '' });
    expect(refusal(() => parseFileUrl(`${emoji}😀`))).toEqual(refusedUrl('fileUrl must be at most 2048 characters'));
  });

  test.each([
    ['javascript:alert(1)', 'javascript'],
    ['JavaScript:alert(1)', 'javascript'],
    ['data:text/html,<b>x</b>', 'data'],
    ['ftp://example.com/a', 'ftp'],
    ['file:///etc/passwd', 'file'],
    ['vbscript:x', 'vbscript'],
    ['blob:https://example.com/1', 'blob'],
    ['mailto:a@example.com', 'mailto'],
    ['ws://example.com/', 'ws'],
  ])('%j: the scheme %s is refused, named', (value, scheme) => {
    expect(refusal(() => parseFileUrl(value))).toEqual(refusedUrl(`fileUrl must be an http:// or https:// URL; ${scheme}: URLs are refused`));
  });

  test('a long scheme is named by its first 32 characters', () => {
    expect(refusal(() => parseFileUrl(`${'x'.repeat(40)}:y`))).toEqual(
      refusedUrl(`fileUrl must be an http:// or https:// URL; ${'x'.repeat(32)}: URLs are refused`),
    );
  });

  test.each([
    ['a space', 'https://example.com/a b.jpg'],
    ['a tab', 'https://example.com/a\tb.jpg'],
    ['a newline', 'https://example.com/a\nb'],
    ['NUL', 'https://example.com/a\u0000b'],
    ['DEL', 'https://example.com/\u007f'],
    ['a C1 control', 'https://example.com/\u0085'],
    ['a no-break space', 'https://example.com/a\u00a0b'],
    ['a space in a /media/ path', '/media/1 2'],
  ])('%s: refused', (_what, value) => {
    expect(refusal(() => parseFileUrl(value))).toEqual(refusedUrl('fileUrl must not contain spaces or control characters'));
  });

  test.each([
    ['a relative path', 'files/a.jpg'],
    ['another absolute path', '/uploads/a.jpg'],
    ['a media look-alike', '/mediax/1'],
    ['a protocol-relative URL', '//example.com/a.jpg'],
    ['a relative path with a colon', 'files/a:b.jpg'],
    ['a bare host', 'example.com/a.jpg'],
    ['a path with /media/ inside', '/x/media/1'],
  ])('%s: refused, not absolute', (_what, value) => {
    expect(refusal(() => parseFileUrl(value))).toEqual(refusedUrl('fileUrl must be an absolute http:// or https:// URL'));
  });

  test('unparsable, host-less or credentialed http(s) URLs: refused', () => {
    expect(refusal(() => parseFileUrl('https://exa[mple.com/'))).toEqual(refusedUrl('fileUrl is not a valid URL'));
    expect(refusal(() => parseFileUrl('http://'))).toEqual(refusedUrl('fileUrl is not a valid URL'));
    expect(refusal(() => parseFileUrl('https://user:secret@example.com/a.jpg'))).toEqual(refusedUrl('fileUrl must not carry a user name or password'));
    expect(refusal(() => parseFileUrl('https://user@example.com/a.jpg'))).toEqual(refusedUrl('fileUrl must not carry a user name or password'));
    expect(refusal(() => parseFileUrl('https://:secret@example.com/a.jpg'))).toEqual(refusedUrl('fileUrl must not carry a user name or password'));
  });
});

describe('checkDeclaredSize', () => {
  test.each([
    [null, null],
    [undefined, null],
    [0, 0],
    [1024, 1024],
    [MAX_DECLARED_SIZE, 2147483647],
    ['1024', 1024],
    [' 12 ', 12],
    ['0', 0],
  ])('%j → %j', (value, expected) => {
    expect(checkDeclaredSize(value)).toBe(expected);
  });

  test.each([[-1], [2147483648], [1.5], [NaN], [Infinity], ['-1'], ['1.5'], ['12abc'], ['abc'], [''], ['12345678901'], ['1e3'], [true], [{}], [[1]]])(
    '%j: BAD_USER_INPUT naming fileSize',
    (value) => {
      expect(refusal(() => checkDeclaredSize(value))).toEqual({
        code: 'BAD_USER_INPUT',
        message: 'fileSize must be a whole number of bytes from 0 to 2147483647',
        field: 'fileSize',
      });
    },
  );
});

describe("nameFromUrl: an absent file_name is the URL's last path segment", () => {
  test.each([
    ['/file.jpg', 'file.jpg'],
    ['/a/b/report.pdf', 'report.pdf'],
    ['/a/b/', 'b'],
    ['/docs/%E6%96%87%E4%BB%B6.txt', '文件.txt'],
    ['/x/100%25.txt', '100%.txt'],
    ['/x/bad%E0%A4%A.txt', 'bad%E0%A4%A.txt'], // does not decode: kept as it is
    ['/x/a%2Fb%5Cc.txt', 'a_b_c.txt'], // no path separators
    ['/x/a%00b%07c.txt', 'abc.txt'], // no control characters
    ['/x/e%CC%81.txt', '\u00e9.txt'], // NFC, as uploads
    ['/x/%20%20name.txt%20', 'name.txt'], // trimmed
  ])('%j → %j', (pathname, expected) => {
    expect(nameFromUrl(pathname)).toBe(expected);
  });

  test.each([['/'], [''], ['/%2E'], ['/%2E%2E'], ['/%00'], ['/%20']])('%j: nothing usable, "file"', (pathname) => {
    expect(nameFromUrl(pathname)).toBe('file');
  });

  test("at most 255 characters (the uploads' rule), of the trimmed name, and trimmed again once cut", () => {
    const name = nameFromUrl(`/${'n'.repeat(300)}.txt`);
    expect(name).toBe('n'.repeat(255));
    expect([...nameFromUrl(`/${'😀'.repeat(300)}`)]).toHaveLength(255);
    expect(nameFromUrl(`/${'%20'.repeat(3)}${'n'.repeat(300)}`)).toBe('n'.repeat(255));
    expect(nameFromUrl(`/${'a'.repeat(254)}%20${'b'.repeat(10)}`)).toBe('a'.repeat(254));
  });

  test("what it makes is a name the uploads' rule (checkFileName) accepts as it is", () => {
    for (const pathname of [
      '/file.jpg',
      `/${'%20'.repeat(3)}${'n'.repeat(300)}`,
      `/${'a'.repeat(254)}%20${'b'.repeat(10)}`,
      '/x/a%2Fb%5Cc.txt',
      '/x/a%00b.txt',
      '/%2E%2E',
      '/x/e%CC%81.txt',
    ]) {
      const name = nameFromUrl(pathname);
      expect([pathname, checkFileName(name)]).toEqual([pathname, name]);
    }
  });
});

describe("mimeFromName: a link's type is guessed from its name, never sniffed", () => {
  test.each([
    // seed 004's allowed files: .jpg, .jpeg, .png, .mp4, .mov, .webp, .gif, .heic, .avif
    ['photo.jpg', 'image/jpeg'],
    ['photo.jpeg', 'image/jpeg'],
    ['a.png', 'image/png'],
    ['clip.mp4', 'video/mp4'],
    ['clip.mov', 'video/quicktime'],
    ['a.webp', 'image/webp'],
    ['a.gif', 'image/gif'],
    ['a.heic', 'image/heic'],
    ['a.avif', 'image/avif'],
    ['report.pdf', 'application/pdf'],
    ['notes.txt', 'text/plain'],
    // Other common files, by their IANA media types.
    ['a.bmp', 'image/bmp'],
    ['a.svg', 'image/svg+xml'],
    ['a.webm', 'video/webm'],
    ['a.mp3', 'audio/mpeg'],
    ['a.wav', 'audio/wav'],
    ['a.ogg', 'audio/ogg'],
    ['a.csv', 'text/csv'],
    ['a.json', 'application/json'],
    ['a.zip', 'application/zip'],
    ['a.doc', 'application/msword'],
    ['a.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['a.xls', 'application/vnd.ms-excel'],
    ['a.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['a.ppt', 'application/vnd.ms-powerpoint'],
    ['a.pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
    ['PHOTO.JPG', 'image/jpeg'],
    ['archive.tar.gz', 'application/gzip'],
  ])('%s → %s', (name, mime) => {
    expect(mimeFromName(name)).toBe(mime);
  });

  test.each([['README'], ['a.exe'], ['jpg'], ['a.jpg.'], ['a.jp g'], ['.'], ['']])('%j: application/octet-stream', (name) => {
    expect(mimeFromName(name)).toBe('application/octet-stream');
  });
});

describe('mediaPathKey (issue 27 §4)', () => {
  test('reads every spelling a router or proxy could serve as /media/<id> the same', () => {
    for (const p of ['/MEDIA/78', '/Media/78', '/%6Dedia/78', '/media/%37%38', '//media/78', '/x/../media/78', '/media/./78', '/%6d%65%64%69%61//78']) {
      expect(mediaPathKey(p)).toBe('/media/78');
    }
    expect(mediaPathKey('/media/78/THUMBNAIL/')).toBe('/media/78/thumbnail/');
    // A broken escape is decoded where it can be, never thrown.
    expect(mediaPathKey('/%6Dedia/78%zz')).toBe('/media/78%zz');
  });
  test("relative paths in any of those spellings pass as this server's /media/ paths, as given", () => {
    expect(parseFileUrl('/MEDIA/78?exp=1')).toEqual({ path: '/MEDIA/78', search: '?exp=1' });
    expect(parseFileUrl('/%6Dedia/78')).toEqual({ path: '/%6Dedia/78', search: '' });
  });
});
