import type { ConversationQueries } from '../conversation/conversation.queries';
import { Membership } from '../conversation/membership.entity';
import { activeMembershipSql } from '../conversation/conversation.policy';
import type { Scope } from '../shared/actor';
import { forbidden } from '../shared/errors';
import { validate, z } from '../shared/validate';
import { NotificationLevel } from './push.policy';

const levelSchema = z.enum(NotificationLevel);

/** Members' push preferences per conversation (issue 34, contract setNotificationLevel). */
export class NotificationLevelService {
  constructor(private readonly queries: ConversationQueries) {}

  /**
   * Sets the actor's level in a conversation they are an active member of (one statement: the
   * membership row, active at that moment). Never hides messages, only pushes.
   * @returns the membership. @throws NOT_FOUND (a conversation the actor may not see),
   *   FORBIDDEN (not a member: staff looking at a SUPPORT thread), BAD_USER_INPUT (level).
   */
  async set(scope: Scope, conversationId: string, level: NotificationLevel): Promise<Membership> {
    const { conversation } = await this.queries.access(scope, conversationId);
    const value = validate(levelSchema, level);
    const rows = await scope.em.execute<Record<string, unknown>[]>(
      `update "memberships" m set "notification_level" = ? where m."conversation_id" = ? and m."user_id" = ? and ${activeMembershipSql('m')} returning *`,
      [value, conversation.id, scope.actor.id],
    );
    if (!rows.length) throw forbidden('Only a member can set a notification level here');
    return scope.em.map(Membership, rows[0]);
  }
}
