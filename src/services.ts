import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from './config/config';
import { AuthService } from './domain/auth/auth.service';
import { ConversationService } from './domain/conversation/conversation.service';
import { MessageService } from './domain/message/message.service';
import type { EventPublisher } from './domain/shared/events';
import { UserService } from './domain/user/user.service';
import type { EventBus } from './realtime/event-bus';
import { PresenceTracker } from './realtime/presence';

/** Every domain service, built once at start. */
export interface Services {
  auth: AuthService;
  users: UserService;
  conversations: ConversationService;
  messages: MessageService;
  presence: PresenceTracker;
  bus: EventBus;
}

/** Wires the domain services to the event publisher. `rootEm` is only forked (presence writes lastSeenAt). */
export function createServices(config: Config, events: EventBus, rootEm: EntityManager): Services {
  const users = new UserService();
  const conversations = new ConversationService(events);
  const messages = new MessageService(events, conversations);
  const auth = new AuthService({
    jwtSecret: config.jwtSecret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    accessTokenTtlSec: config.accessTokenTtlSec,
    refreshTokenTtlSec: config.refreshTokenTtlSec,
  });
  const presence = new PresenceTracker(events, (userId, at) => users.touchLastSeen(rootEm.fork(), userId, at));
  return { auth, users, conversations, messages, presence, bus: events };
}
