import type { IncomingMessage } from 'node:http';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import type { Attachment } from '../domain/attachment/attachment.entity';
import type { DomainEvent } from '../domain/shared/events';
import type { UserRecord } from '../domain/user/user-cache';
import type { Services } from '../services';
import type { DocumentCache } from '../security/query-limits';
import type { QueryCost } from '../security/query-cost';
import type { RequestBudget } from '../security/request-budget';
import type { DeliveryHub, EventScope } from './delivery/hub';
import type { AudienceRegistry } from './state/live-registry';
import type { SocketGate } from './transports/socket-gate';

/** Everything `startRealtime` (src/realtime/index.ts) needs from the app. */
export interface RealtimeDeps {
  config: Config;
  services: Services;
  rootEm: EntityManager;
  schema: GraphQLSchema;
  /** Parse + validate with the query limits, cached per document text. */
  documents: DocumentCache;
  logger: Logger;
  /** The client address of an upgrade request (TRUST_PROXY). */
  clientIp(req: IncomingMessage): string;
  /** The host (with port) the client addressed, through trusted proxies (src/security/forwarded.ts). */
  clientHost(req: IncomingMessage): string;
  /** The one error mapper (contract codes, no internals). */
  format(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError;
  /** Called once per event as it fans out (metrics). */
  onDispatch?: (event: DomainEvent) => void;
  /** The cost of an operation with its variables (GRAPHQL_MAX_COST; issue 27). */
  cost?: QueryCost;
  /** One user's share of the instance: queries and mutations at once, cost per second (issue 27). */
  budget?: RequestBudget;
}

/**
 * What every transport (graphql-ws, the legacy WebSocket dialects, Socket.IO) gets: the app's
 * {@link RealtimeDeps} plus what `startRealtime` builds once for all three.
 */
export interface TransportDeps extends RealtimeDeps {
  /** Admission, limits and bounded sends, shared by the three transports. */
  gate: SocketGate;
  hub: DeliveryHub;
  audience: AudienceRegistry;
  /** A user by id through an event's scope (its loaders and the user cache). */
  userOf(scope: EventScope, id: number): Promise<UserRecord | null>;
  /** A message's attachments through an event's scope (its loaders). */
  attachmentsOf(scope: EventScope, messageId: number): Promise<Attachment[]>;
}
