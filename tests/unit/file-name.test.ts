/** The file-name rule of attachments (issue 4): metadata only, no paths, no control characters, capped. */
import { checkFileName } from '../../src/domain/attachment/attachment.service';
import { DomainError } from '../../src/domain/shared/errors';

const codeOf = (name: unknown) => {
  try {
    return checkFileName(name);
  } catch (err) {
    return err instanceof DomainError ? err.code : 'other';
  }
};

test('keeps ordinary and unicode names, trimmed and NFC-normalised', () => {
  expect(codeOf('  Photo 1.JPG ')).toBe('Photo 1.JPG');
  expect(codeOf('ảnh đẹp.png')).toBe('ảnh đẹp.png'.normalize('NFC'));
  expect(codeOf('e\u0301.png')).toBe('\u00e9.png');
  expect(codeOf(`${'x'.repeat(251)}.png`)).toHaveLength(255);
});

test.each([
  ['../../a.php\u0000.jpg'],
  ['..\\..\\evil.png'],
  ['dir/file.png'],
  ['tab\there.png'],
  ['line\nbreak.png'],
  ['bell\u0007.png'],
  ['c1\u0085.png'],
  ['..'],
  [''],
  ['   '],
  [`${'x'.repeat(252)}.png`],
  [null],
  [42],
])('refuses %j with BAD_USER_INPUT', (name) => {
  expect(codeOf(name)).toBe('BAD_USER_INPUT');
});
