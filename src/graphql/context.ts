import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor, Scope } from '../domain/shared/actor';
import { unauthenticated } from '../domain/shared/errors';
import type { Services } from '../services';
import { createLoaders, type Loaders } from '../read-model/loaders';

/**
 * An EntityManager made by `make` when it is first used, not before: for a call that needs one
 * only on a cache miss (AuthService.authenticate and UserService.me find the user in the
 * UserCache nearly always), so a request does not pay a fork (a new unit of work, identity map
 * and validators: about 4% of a small request's CPU) for nothing. Every property is the made
 * EntityManager's (methods bound to it). Pass it to one call, never keep it as a request's
 * EntityManager (an identity check would see the proxy, not the EntityManager behind it).
 */
export function lazyEntityManager(make: () => EntityManager): EntityManager {
  let em: EntityManager | undefined;
  return new Proxy({} as EntityManager, {
    get(_target, prop) {
      em ??= make();
      const value: unknown = Reflect.get(em, prop, em);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(em) : value;
    },
  });
}

/**
 * What every resolver gets: the services, this request's EntityManager fork and loaders, and
 * the authenticated actor (null when the request had no valid token). The fork and the loaders
 * are made on first use, so an open subscription holds neither. It knows nothing of sockets: over
 * graphql-ws the context is a LiveContext (src/realtime/transports/live.ts) that adds the socket's
 * realtime state for the subscription resolvers.
 */
export class GraphQLContext {
  private _em?: EntityManager;
  private _loaders?: Loaders;
  private blocked?: Promise<Set<number>>;
  private related?: Promise<Set<number>>;
  /** The HTTP response's locals, for the request log (operation name, user id); absent over graphql-ws. */
  httpLocals?: Record<string, unknown>;

  constructor(
    readonly services: Services,
    private readonly rootEm: EntityManager,
    readonly actor: Actor | null,
    private readonly authError?: Error,
    /** The client's address (login limits). */
    readonly ip = 'unknown',
  ) {}

  /**
   * A context for executing one realtime event: its EntityManager and loaders are the event's
   * (shared by every execution of that event); `blocked` answers blockedIds from memory.
   */
  static forEvent(
    services: Services,
    rootEm: EntityManager,
    actor: Actor | null,
    em: EntityManager,
    loaders: Loaders,
    blocked?: () => Promise<Set<number>>,
  ): GraphQLContext {
    const ctx = new GraphQLContext(services, rootEm, actor);
    ctx._em = em;
    ctx._loaders = loaders;
    if (blocked) ctx.blockedIds = blocked;
    return ctx;
  }

  get em(): EntityManager {
    return (this._em ??= this.rootEm.fork());
  }

  get loaders(): Loaders {
    return (this._loaders ??= createLoaders(this.em, this.actor?.id ?? null, this.services.userCache));
  }

  /** The actor and EntityManager for a domain call. @throws UNAUTHENTICATED without a valid token. */
  scope(): Scope {
    if (!this.actor) throw this.authError ?? unauthenticated();
    return { actor: this.actor, em: this.em };
  }

  /**
   * Like {@link scope}, for one read that is usually served from memory (the user cache): its
   * EntityManager is this request's fork, made only if the call uses it (see {@link lazyEntityManager}).
   * @throws UNAUTHENTICATED without a valid token.
   */
  readScope(): Scope {
    if (!this.actor) throw this.authError ?? unauthenticated();
    return { actor: this.actor, em: lazyEntityManager(() => this.em) };
  }

  /** Drops the fork and loaders (a subscription, once started, keeps neither alive). */
  release(): void {
    this._em = undefined;
    this._loaders = undefined;
    this.blocked = undefined;
    this.related = undefined;
  }

  /**
   * The actor's accepted contacts and co-members, minus blocks (ConversationQueries.presenceAudience),
   * read once per request or event, and only when a presence rule needs it (issue 27 §5).
   */
  presenceAudience(): Promise<Set<number>> {
    if (!this.actor) return Promise.resolve(new Set());
    return (this.related ??= this.services.conversationQueries.presenceAudience({ actor: this.actor, em: this.em }));
  }

  /** Users the actor has blocked or is blocked by (read once per request or event). */
  blockedIds(): Promise<Set<number>> {
    if (!this.actor) return Promise.resolve(new Set());
    return (this.blocked ??= this.services.contacts.blockedIds(this.em, this.actor.id));
  }
}
