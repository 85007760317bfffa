import { createHash } from 'node:crypto';

/** The decoded header of a JWT (its first segment, base64url JSON), unverified. */
export const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));

/** The `kid` the server derives for a signing secret (AuthService's derivation, computed independently here). */
export const kidOf = (secret: string) =>
  createHash('sha256').update('chat-server jwt kid\0').update(Buffer.from(secret, 'utf8')).digest('base64url').slice(0, 12);
