import { mentionedNames } from '../../src/domain/message/mentions';

/**
 * `@username` mentions (docs/graphql-api.md "What the API does": "`@username` of a member is a mention"; seed 003's
 * MENTION notifications): the names are the register rule's (3..32 letters, digits, ".", "_",
 * "-"; docs/graphql-api.md "Auth flow"), found anywhere but inside a word or an e-mail address, compared
 * without letter case. A name ends with a letter, digit or "_", so `@name.` at the end of a
 * sentence mentions `name` (src/domain/user/username.ts).
 */
describe('mentionedNames', () => {
  test.each([
    ['hi @alice', ['alice']],
    ['@alice at the start', ['alice']],
    ['(@alice) and "@bob"', ['alice', 'bob']],
    ['@Alice and @ALICE and @alice: once, lower-cased, in order of first appearance', ['alice']],
    ['@bob then @alice then @bob', ['bob', 'alice']],
    ['end of a sentence: @alice.', ['alice']],
    ['trailing dashes and dots: @alice-. @bob..', ['alice', 'bob']],
    ['inside: @a.b-c_d wins', ['a.b-c_d']],
    ['the longest name: @' + 'x'.repeat(32), ['x'.repeat(32)]],
    ['the shortest: @abc', ['abc']],
    ['the longest name at the end of a sentence: @' + 'x'.repeat(32) + '.', ['x'.repeat(32)]],
    ['line\n@alice\tand\t@bob', ['alice', 'bob']],
  ])('%j → %j', (text, expected) => {
    expect(mentionedNames(text)).toEqual(expected);
  });

  test.each([
    ['no @ at all', 'hello alice'],
    ['an e-mail address', 'write to mail@alice.example'],
    ['inside a word', 'abc@alice'],
    ['after a dot or a dash', 'x.@alice y-@bob'],
    ['a double @', '@@alice'],
    ['too short', '@ab'],
    ["too short once the sentence's dot is cut", '@ab.'],
    ['only punctuation after @', '@... @-- @'],
    ['other characters', '@ålice @<b>'],
    // A run longer than any username is nobody's name, not the user named by its first 32 characters.
    ['longer than a username', '@' + 'y'.repeat(40) + ' and @' + 'z'.repeat(33)],
  ])('%s: none', (_what, text) => {
    expect(mentionedNames(text)).toEqual([]);
  });
});
