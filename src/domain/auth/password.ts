import { randomBytes } from 'node:crypto';
import { hash as argonHash, verify as argonVerify, type Options as ArgonOptions } from '@node-rs/argon2';

/** Shortest accepted password, in characters (OWASP ASVS 2.1.1 asks for at least 8). */
export const PASSWORD_MIN_LENGTH = 8;
/** Longest accepted password, in characters: bounds the work one login or register can ask of argon2. */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * argon2id with the OWASP Password Storage Cheat Sheet's first profile: m = 19456 KiB (19 MiB),
 * t = 2 passes, p = 1 lane. Raising them only makes new hashes (and logins re-hashing old ones)
 * slower; every stored hash carries its own parameters.
 */
export const ARGON2_PARAMS = { memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
const ARGON: ArgonOptions = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, ...ARGON2_PARAMS };

/** Hashes a password with argon2id ({@link ARGON2_PARAMS}); the PHC string carries salt and parameters. */
export function hashPassword(password: string): Promise<string> {
  return argonHash(password, ARGON);
}

/**
 * A hash of a random password made once per process with the same parameters as real ones.
 * {@link verifyPassword} checks against it when there is no account, so an unknown username
 * costs one argon2id verification just like a known one (no user-enumeration by timing).
 */
let dummy: Promise<string> | undefined;
/** The process's dummy hash (see above); exported for the unit test of its parameters. */
export function dummyPasswordHash(): Promise<string> {
  return (dummy ??= hashPassword(randomBytes(24).toString('base64url')));
}

/**
 * True when `password` matches `storedHash`. With `storedHash` null (no such user) it verifies
 * against {@link dummyPasswordHash} and answers false: the same code path and the same argon2id
 * work either way. A password over {@link PASSWORD_MAX_LENGTH} is false (no account can have
 * one); the empty string is verified in its place, so the work stays the same and the huge
 * input is never hashed. `work`, when given, is told of the verification once argon2 has done it.
 */
export async function verifyPassword(storedHash: string | null | undefined, password: string, work?: PasswordWork): Promise<boolean> {
  const tooLong = password.length > PASSWORD_MAX_LENGTH;
  const hash = storedHash ?? (await dummyPasswordHash());
  let ok: boolean;
  try {
    ok = await argonVerify(hash, tooLong ? '' : password);
    // Counted only once argon2 ran to its answer (a hash it cannot parse throws first: no work).
    work?.verified(workLabelOf(hash));
  } catch {
    ok = false;
  }
  return ok && !tooLong && storedHash != null;
}

/**
 * Told of each argon2 verification {@link verifyPassword} completed, with the parameters of the
 * hash it verified ({@link workLabelOf}): the count of password-hashing work, by its cost, that an
 * operator (and the test of the dummy hash, issue 27) reads as `chat_password_verifications`.
 */
export interface PasswordWork {
  verified(label: string): void;
}

/** The work of verifying `phc`, as a label: `argon2id m=19456 t=2 p=1` ("unknown" when not an argon2 PHC string). */
export function workLabelOf(phc: string): string {
  const p = argon2ParamsOf(phc);
  return p ? `${p.variant} m=${p.m} t=${p.t} p=${p.p}` : 'unknown';
}

/**
 * Counts completed password verifications by {@link workLabelOf} (per instance: AuthService owns
 * one, the metrics read it at scrape).
 */
export class PasswordWorkCounter implements PasswordWork {
  readonly counts = new Map<string, number>();
  verified(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }
}

/** The parameters of an argon2 PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`); null when it is not one. */
export function argon2ParamsOf(phc: string): { variant: string; m: number; t: number; p: number } | null {
  const match = /^\$(argon2(?:id|i|d))\$(?:v=\d+\$)?m=(\d+),t=(\d+),p=(\d+)\$/.exec(phc);
  if (!match) return null;
  return { variant: match[1], m: Number(match[2]), t: Number(match[3]), p: Number(match[4]) };
}

/**
 * True when a stored hash is weaker than {@link ARGON2_PARAMS} (or not argon2id): login then
 * stores a fresh hash of the password it just verified.
 */
export function needsRehash(phc: string): boolean {
  const p = argon2ParamsOf(phc);
  return !p || p.variant !== 'argon2id' || p.m < ARGON2_PARAMS.memoryCost || p.t < ARGON2_PARAMS.timeCost || p.p < ARGON2_PARAMS.parallelism;
}
