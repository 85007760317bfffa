import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../../domain/shared/actor';
import { GraphQLContext } from '../../graphql/context';
import type { Services } from '../../services';
import type { AudienceRegistry, Viewer } from '../state/live-registry';
import type { DeliveryHub, PreparedOperation } from '../delivery/hub';

import { CloseCode } from './sockets';

/** graphql-ws close code: the socket's unsent data or undelivered events passed their limit (sockets.ts {@link CloseCode}). Reconnect and catch up with messagesSince. */
export const CLOSE_TOO_FAR_BEHIND = CloseCode.TOO_FAR_BEHIND;

/** What an operation over graphql-ws knows of its socket's realtime state (GraphQLContext.live). */
export interface LiveSocket {
  /** The socket's user, as of now (shared by their sockets on this instance). */
  viewer: Viewer;
  audience: AudienceRegistry;
  hub: DeliveryHub;
  /** The operation being run, prepared for shared execution. */
  operation: PreparedOperation;
  /** Most ids in one presence(userIds:) subscription. */
  maxPresenceIds: number;
  /**
   * Reserves `count` user ids of the socket's WS_MAX_PRESENCE_IDS_PER_SOCKET (all its presence and
   * userUpdated `userIds` together); answers the release (idempotent), called when the
   * subscription ends. @throws BAD_USER_INPUT naming userIds past the cap.
   */
  holdUserIds(count: number): () => void;
  /** The graphql-ws id of the operation (the `id` of its `next` messages). */
  operationId: string;
  /** Sends one text frame on the socket (never waits; a socket too far behind is closed with 4507). */
  send(frame: string): void;
  /**
   * Sends `prefix + payload + "}"` as one text frame, like {@link send}; `payload` is a result
   * the hub shares among subscribers, encoded once per turn however many sockets get it.
   */
  sendShared(prefix: string, payload: string): void;
  /** Closes this socket (a subscriber fell too far behind). */
  close(code: number, reason: string): void;
}

/**
 * The context of an operation over graphql-ws: the GraphQL adapter's GraphQLContext plus the
 * socket's realtime state (`live`), which the subscription resolvers register with the hub. The
 * GraphQL adapter itself knows nothing of sockets (issue 29 item 4).
 */
export class LiveContext extends GraphQLContext {
  constructor(
    services: Services,
    rootEm: EntityManager,
    actor: Actor | null,
    ip: string,
    readonly live: LiveSocket,
  ) {
    super(services, rootEm, actor, undefined, ip);
  }
}
