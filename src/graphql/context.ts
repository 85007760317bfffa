import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor, Scope } from '../domain/shared/actor';
import { unauthenticated } from '../domain/shared/errors';
import type { Services } from '../services';
import { createLoaders, type Loaders } from './loaders';

/**
 * What every resolver gets: the services, this request's EntityManager fork and loaders, and
 * the authenticated actor (null when the request had no valid token).
 * Subscriptions call {@link renew} before each event, so every event gets a fresh fork.
 */
export class GraphQLContext {
  em: EntityManager;
  loaders: Loaders;
  private blocked?: Promise<Set<number>>;

  constructor(
    readonly services: Services,
    private readonly rootEm: EntityManager,
    readonly actor: Actor | null,
    private readonly authError?: Error,
    /** The client's address (login limits). */
    readonly ip = 'unknown',
  ) {
    this.em = rootEm.fork();
    this.loaders = createLoaders(this.em, actor?.id ?? null);
  }

  /** The actor and EntityManager for a domain call. @throws UNAUTHENTICATED without a valid token. */
  scope(): Scope {
    if (!this.actor) throw this.authError ?? unauthenticated();
    return { actor: this.actor, em: this.em };
  }

  /** A fresh EntityManager fork and loaders (one per subscription event). */
  renew(): void {
    this.em = this.rootEm.fork();
    this.loaders = createLoaders(this.em, this.actor?.id ?? null);
    this.blocked = undefined;
  }

  /** Users the actor has blocked or is blocked by (read once per request or event). */
  blockedIds(): Promise<Set<number>> {
    if (!this.actor) return Promise.resolve(new Set());
    return (this.blocked ??= this.services.contacts.blockedIds(this.em, this.actor.id));
  }
}
