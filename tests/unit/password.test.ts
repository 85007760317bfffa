import { hash as argonHash } from '@node-rs/argon2';
import {
  ARGON2_PARAMS,
  PASSWORD_MAX_LENGTH,
  argon2ParamsOf,
  dummyPasswordHash,
  hashPassword,
  needsRehash,
  verifyPassword,
} from '../../src/domain/auth/password';

describe('password hashing (argon2id, OWASP parameters)', () => {
  test("the parameters are at least OWASP's first argon2id profile: m=19456 KiB, t=2, p=1", () => {
    expect(ARGON2_PARAMS.memoryCost).toBeGreaterThanOrEqual(19456);
    expect(ARGON2_PARAMS.timeCost).toBeGreaterThanOrEqual(2);
    expect(ARGON2_PARAMS.parallelism).toBeGreaterThanOrEqual(1);
  });

  test('hashPassword makes a salted argon2id PHC string that verifyPassword accepts for that password only', async () => {
    const a = await hashPassword('correct-horse-battery');
    const b = await hashPassword('correct-horse-battery');
    expect(argon2ParamsOf(a)).toEqual({ variant: 'argon2id', m: 19456, t: 2, p: 1 });
    expect(a).not.toBe(b); // salted
    expect(await verifyPassword(a, 'correct-horse-battery')).toBe(true);
    expect(await verifyPassword(a, 'correct-horse-batterY')).toBe(false);
  });

  test('the dummy hash for unknown users has the same algorithm and parameters as real ones (same work), and nothing verifies against a missing account', async () => {
    const dummy = await dummyPasswordHash();
    expect(argon2ParamsOf(dummy)).toEqual(argon2ParamsOf(await hashPassword('x'.repeat(12))));
    expect(await dummyPasswordHash()).toBe(dummy); // made once per process
    expect(await verifyPassword(null, 'anything-at-all')).toBe(false);
    expect(await verifyPassword(undefined, '')).toBe(false);
  });

  test('a password of exactly the maximum (256 characters, docs/graphql-api.md "Auth flow") verifies against its hash', async () => {
    const longest = 'q'.repeat(PASSWORD_MAX_LENGTH);
    expect(PASSWORD_MAX_LENGTH).toBe(256);
    expect(await verifyPassword(await hashPassword(longest), longest)).toBe(true);
  });

  test('a password over the maximum never verifies, even against its own hash', async () => {
    const long = 'p'.repeat(PASSWORD_MAX_LENGTH + 1);
    const hash = await argonHash(long, { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(await verifyPassword(hash, long)).toBe(false);
  });

  test('a malformed stored hash is a failed verification, not an exception', async () => {
    expect(await verifyPassword('not-a-hash', 'whatever1')).toBe(false);
  });
});

describe('argon2ParamsOf', () => {
  test('reads the variant and parameters of a PHC string, with or without its version, numbers of any length', () => {
    expect(argon2ParamsOf('$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA')).toEqual({ variant: 'argon2id', m: 19456, t: 2, p: 1 });
    expect(argon2ParamsOf('$argon2i$m=4096,t=3,p=1$c2FsdHNhbHQ$aGFzaA')).toEqual({ variant: 'argon2i', m: 4096, t: 3, p: 1 }); // before v=19
    expect(argon2ParamsOf('$argon2d$v=16$m=65536,t=10,p=12$c2FsdHNhbHQ$aGFzaA')).toEqual({ variant: 'argon2d', m: 65536, t: 10, p: 12 });
  });

  test('null for anything that does not start as an argon2 PHC string', () => {
    expect(argon2ParamsOf('x$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA')).toBeNull();
    expect(argon2ParamsOf('$2b$12$abcdefghijklmnopqrstuv')).toBeNull();
    expect(argon2ParamsOf('$argon2id$v=19$m=19456,t=2$c2FsdHNhbHQ$aGFzaA')).toBeNull();
    expect(argon2ParamsOf('')).toBeNull();
  });
});

describe('needsRehash', () => {
  test("false for a hash with today's parameters or stronger", async () => {
    expect(needsRehash(await hashPassword('abcdefgh'))).toBe(false);
    expect(needsRehash('$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA')).toBe(false);
  });

  test('true for weaker parameters, other argon2 variants and anything else', () => {
    expect(needsRehash('$argon2id$v=19$m=4096,t=2,p=1$c2FsdHNhbHQ$aGFzaA')).toBe(true);
    expect(needsRehash('$argon2id$v=19$m=19456,t=1,p=1$c2FsdHNhbHQ$aGFzaA')).toBe(true);
    expect(needsRehash('$argon2id$v=19$m=19456,t=2,p=0$c2FsdHNhbHQ$aGFzaA')).toBe(true); // fewer lanes than ARGON2_PARAMS.parallelism
    expect(needsRehash('$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA')).toBe(true);
    expect(needsRehash('$2b$12$abcdefghijklmnopqrstuv')).toBe(true);
  });
});
