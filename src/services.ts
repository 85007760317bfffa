import type { EntityManager } from '@mikro-orm/postgresql';
import { PushDeviceService } from './domain/push/push-device.service';
import { NotificationLevelService } from './domain/push/notification-level.service';
import { PushOutbox } from './domain/push/outbox';
import { WebhookService } from './domain/webhook/webhook.service';
import type { Config } from './config/config';
import { AttachmentService } from './domain/attachment/attachment.service';
import { AuthService } from './domain/auth/auth.service';
import { AccountService } from './domain/auth/account.service';
import { ContactService } from './domain/contact/contact.service';
import { ConversationService } from './domain/conversation/conversation.service';
import { ConversationQueries } from './domain/conversation/conversation.queries';
import { ThreadService } from './domain/message/thread.service';
import { MembershipService } from './domain/conversation/membership.service';
import { ReadStateService } from './domain/message/read-state.service';
import { MessageService } from './domain/message/message.service';
import { ReactionService } from './domain/message/reaction.service';
import { NotificationService } from './domain/notification/notification.service';
import { UserService } from './domain/user/user.service';
import { UserCache } from './domain/user/user-cache';
import { AvatarService } from './domain/user/avatar.service';
import type { Logger } from 'pino';
import type { RateLimiter } from './domain/shared/rate-limit';
import type { EventPublisher } from './domain/shared/events';
import type { EventBus, LiveState, PresenceTracker, TypingState, WatcherRegistry } from './domain/shared/live-state';
import { LocalDiskStorage } from './storage/local-disk.storage';
import { SearchService } from './domain/search/search.service';
import { PostgresSearchIndex } from './domain/search/search.index';

/** Every domain service, built once at start. */
export interface Services {
  auth: AuthService;
  /** Account deletion (issue 18); password change is AuthService.changePassword. */
  accounts: AccountService;
  attachments: AttachmentService;
  users: UserService;
  contacts: ContactService;
  /** Conversations' lifecycle: direct chats, groups, rooms, support threads. */
  conversations: ConversationService;
  /** Reading conversations: the access check, lists, presence audiences. */
  conversationQueries: ConversationQueries;
  /** Joining, leaving, members, roles, mutes, bans, nicknames. */
  memberships: MembershipService;
  messages: MessageService;
  /** Reactions to messages (issue 31). */
  reactions: ReactionService;
  /** Threads (issue 32): replies, the viewer's threads, following, thread read positions. */
  threads: ThreadService;
  /** Read positions, read receipts, unread counts. */
  readState: ReadStateService;
  notifications: NotificationService;
  presence: PresenceTracker;
  typing: TypingState;
  watchers: WatcherRegistry;
  bus: EventBus;
  limits: RateLimiter;
  /** Users by id in memory, invalidated by events (token → actor, senders, `me`). */
  userCache: UserCache;
  /** Push devices (seed 002 fcm-django; issue 34 delivers). */
  pushDevices: PushDeviceService;
  /** searchMessages (issue 33) over the PostgreSQL index. */
  search: SearchService;
  /** Members' push levels per conversation (issue 34). */
  notificationLevels: NotificationLevelService;
  /** The pushes a send queues in its own transaction (issue 34; inactive without push configured). */
  pushOutbox: PushOutbox;
  /** Webhooks (issue 34, staff only; docs/webhooks.md). */
  webhooks: WebhookService;
}

/** Shared infrastructure for {@link createServices}: the live state's factory and the logger. */
export interface Infrastructure {
  /**
   * Builds the shared live state (rate limits, watchers, typing, presence: interfaces of
   * domain/shared/live-state.ts) for these services' events; `touchLastSeen` records lastSeenAt
   * when a user's last socket closes. The app passes src/realtime/state createLiveState.
   */
  live(events: EventPublisher, touchLastSeen: (userId: number, at: Date) => Promise<void>): LiveState;
  logger?: Logger;
}

/**
 * Wires the domain services to the event publisher. `rootEm` is only forked (presence writes
 * lastSeenAt). A message's notifications are written by its own statement, so no after-commit
 * side work is left to fail apart from it.
 */
export function createServices(config: Config, events: EventBus, rootEm: EntityManager, infra: Infrastructure): Services {
  const touch = (userId: number, at: Date) => users.touchLastSeen(rootEm.fork(), userId, at);
  const { limits, watchers, typing, presence } = infra.live(events, touch);
  const userCache = new UserCache(events);
  // Avatars (issue 18): the attachments' upload limits and storage folder, their own URL key.
  // One store for attachments and avatars (UPLOAD_DIR).
  const storage = new LocalDiskStorage(config.uploadDir);
  const avatars = new AvatarService(
    storage,
    {
      maxBytes: config.uploadMaxBytes,
      maxPixels: config.uploadMaxPixels,
      urlTtlSec: config.mediaUrlTtlSec,
      publicUrl: config.publicUrl ?? '',
    },
    config.jwtSecret,
  );
  const users = new UserService(events, userCache, avatars);
  const contacts = new ContactService(events);
  const notifications = new NotificationService(events, (conversationId, candidates) => watchers.watchersOf(conversationId, candidates), userCache);
  const conversationQueries = new ConversationQueries(contacts);
  // Issue 34: the outbox rows (pushes, webhook events) of each change, written in its transaction.
  const pushOutbox = new PushOutbox(config.push != null);
  const conversations = new ConversationService(events, conversationQueries, contacts, notifications, limits, pushOutbox);
  const memberships = new MembershipService(events, conversationQueries, contacts, notifications, limits, pushOutbox);
  const readState = new ReadStateService(events, conversationQueries, conversations, { seenByMaxMembers: config.seenByMaxMembers });
  const attachments = new AttachmentService(
    storage,
    { maxBytes: config.uploadMaxBytes, maxFiles: config.uploadMaxFiles, maxPixels: config.uploadMaxPixels, maxPending: config.uploadPendingMax },
    config.jwtSecret,
    config.mediaUrlTtlSec,
    config.publicUrl ?? '',
    conversationQueries,
  );
  const messages = new MessageService(
    events,
    conversationQueries,
    conversations,
    notifications,
    typing,
    attachments,
    limits,
    { editWindowSec: config.messageEditWindowSec, maxPins: config.maxPinsPerConversation },
    pushOutbox,
  );
  const reactions = new ReactionService(events, conversationQueries, messages, notifications, limits, config.reactions);
  const auth = new AuthService({
    jwtSecret: config.jwtSecret,
    previousJwtSecrets: config.jwtPreviousSecrets,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    accessTokenTtlSec: config.accessTokenTtlSec,
    refreshTokenTtlSec: config.refreshTokenTtlSec,
    refreshReuseGraceSec: config.refreshReuseGraceSec,
    events,
    limits,
    users: userCache,
  });
  const accounts = new AccountService(auth, events, storage, infra.logger, pushOutbox);
  return {
    auth,
    accounts,
    attachments,
    users,
    contacts,
    conversations,
    conversationQueries,
    memberships,
    messages,
    reactions,
    threads: new ThreadService(conversationQueries),
    readState,
    notifications,
    presence,
    typing,
    watchers,
    bus: events,
    limits,
    userCache,
    pushDevices: new PushDeviceService({ allowPrivate: config.outboundAllowPrivate, webPushPublicKey: config.push?.webPush?.publicKey ?? null }),
    search: new SearchService(new PostgresSearchIndex(), conversationQueries, limits),
    notificationLevels: new NotificationLevelService(conversationQueries),
    pushOutbox,
    webhooks: new WebhookService(pushOutbox, { allowPrivate: config.outboundAllowPrivate, secretOverlapSec: config.webhooks.secretOverlapSec }),
  };
}
