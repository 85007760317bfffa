import type { EntityManager } from '@mikro-orm/postgresql';

/** Who is acting: the authenticated user, as loaded for this request (so isStaff is current). */
export interface Actor {
  id: number;
  username: string;
  isStaff: boolean;
  /** The login (refresh-token family id, `sid`) of the access token that authenticated the request, when known (issue 18: changePassword keeps it). */
  sessionId?: string | null;
}

/** What every domain call gets: the actor and the request's own EntityManager fork. */
export interface Scope {
  actor: Actor;
  em: EntityManager;
}
