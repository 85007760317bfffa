import { ConversationKind } from '../conversation/conversation.entity';

/** Contract NotificationLevel: what of a conversation reaches a member's devices (issue 34). Muting never hides messages, only pushes. */
export enum NotificationLevel {
  ALL = 'ALL',
  MENTIONS = 'MENTIONS',
  NONE = 'NONE',
}

/**
 * A member's level: the one they set, else the kind's default (issue 34): ALL for DIRECT, GROUP
 * and SUPPORT, MENTIONS for ROOM (rooms are large and public; Mattermost and Slack do the same).
 */
export function notificationLevelOf(kind: ConversationKind, stored: string | null | undefined): NotificationLevel {
  if (stored && stored in NotificationLevel) return stored as NotificationLevel;
  return kind === ConversationKind.ROOM ? NotificationLevel.MENTIONS : NotificationLevel.ALL;
}

/** Whether a message pushes to a recipient at `level`: ALL always, MENTIONS when they are mentioned, NONE never. */
export function levelAllows(level: NotificationLevel, mentioned: boolean): boolean {
  return level === NotificationLevel.ALL || (level === NotificationLevel.MENTIONS && mentioned);
}

/**
 * SQL: the level of membership `m` (nullable: a staff user outside a SUPPORT thread) in conversation `c`,
 * as {@link notificationLevelOf}.
 */
export function notificationLevelSql(m: string, c: string): string {
  return `coalesce(${m}."notification_level", case when ${c}."kind" = 'ROOM' then 'MENTIONS' else 'ALL' end)`;
}

/** The first `n` characters of a message for a push body (seed 002: `noi_dung[:100]`), by code point, whitespace collapsed. */
export function pushPreview(content: string, n = 100): string {
  return [...content.replace(/\s+/g, ' ').trim()].slice(0, n).join('');
}
