import { usernameLookupKey, usernameSchema } from '../../src/domain/user/username';

describe('usernameSchema (register)', () => {
  test.each(['abc', 'alice', 'Bob_2', 'a.b-c_d', 'user1_12345', 'x'.repeat(32), '0day', 'name_', 'tok_erin'])('accepts %j', (name) => {
    expect(usernameSchema.safeParse(name).success).toBe(true);
  });

  test('trims surrounding spaces, as before', () => {
    expect(usernameSchema.parse('  alice ')).toBe('alice');
  });

  test.each([
    ['too short', 'ab'],
    ['too long', 'x'.repeat(33)],
    ['a space', 'bad name'],
    ['a tab', 'bad\tname'],
    ['NUL', 'bad\u0000name'],
    ['markup', '<script>'],
    ['markup inside', 'a<b>c'],
    ['quotes', "o'neil"],
    ['@', '@alice'],
    ['a slash', 'a/b'],
    ['non-ASCII letters', 'ålice'],
    ['a Cyrillic look-alike', 'аlice'],
    ['an emoji', 'cat😀'],
    ['a zero-width space', 'al\u200bice'],
    ['full-width letters', 'ａｌｉｃｅ'],
    ['a leading dot', '.alice'],
    ['a leading dash', '-alice'],
    ['a leading underscore', '_alice'],
    ['a trailing dot', 'alice.'],
    ['a trailing dash', 'alice-'],
    ['dots only', '...'],
    ['empty', ''],
  ])('refuses one with %s (%j)', (_label, name) => {
    expect(usernameSchema.safeParse(name).success).toBe(false);
  });
});

describe('usernameSchema says which rule a refused name breaks (docs/graphql-api.md "Auth flow": BAD_USER_INPUT naming the field and why)', () => {
  const messages = (name: string) => usernameSchema.safeParse(name).error?.issues.map((i) => i.message) ?? [];
  const CHARSET = 'may contain only letters, digits, ".", "_" and "-"';
  const ENDS = 'must start with a letter or digit and end with a letter, digit or "_"';

  test.each([['!alice'], ['alice!'], ['al ice'], ['ålice']])('%j: other characters, wherever they are', (name) => {
    expect(messages(name)).toContain(CHARSET);
  });

  test.each([['.alice'], ['alice-'], ['_alice']])('%j: only the first or last character is wrong', (name) => {
    expect(messages(name)).toEqual([ENDS]);
  });
});

describe('usernameLookupKey', () => {
  test('lower-cases and trims a possible name', () => {
    expect(usernameLookupKey(' Alice ')).toBe('alice');
    expect(usernameLookupKey('a.b-c_')).toBe('a.b-c_');
  });

  test('null for a name no account can have (control characters, other characters, over 64)', () => {
    for (const raw of ['al\u0000ice', 'a b', '<script>', 'ålice', 'x'.repeat(65), '', null, undefined]) expect(usernameLookupKey(raw)).toBeNull();
  });
});
