import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Membership } from '../../domain/conversation/membership.entity';
import type { UserCache } from '../../domain/user/user-cache';
import { createLoaders } from '../../read-model/loaders';
import { refId } from '../../domain/shared/refs';
import type { MessageView } from '../../domain/shared/events';
import { messageColumnsSql, rowToMessageView, type MessageRow } from '../../domain/message/message.writer';

/**
 * Batch loaders for one REST request: the same read-only loaders GraphQL's field resolvers use
 * (users, conversations, messages, members, read positions, unread counts), plus the members a
 * moderator sees (banned ones too). Presenters use them only after the domain call checked access.
 */
export function restLoaders(em: EntityManager, viewerId: number | null, users: UserCache) {
  return {
    ...createLoaders(em, viewerId, users),
    /** The newest message that is not a SYSTEM notice nor a thread-only reply (issue 32), per conversation (seed 001's `last_message`: its backend had no notices). */
    lastPostedMessage: new DataLoader<number, MessageView | null>(async (ids) => {
      const rows = await em.execute<MessageRow[]>(
        `select distinct on (m."conversation_id") ${messageColumnsSql('m')} from "messages" m
          where m."conversation_id" in (${ids.map(() => '?').join(', ')}) and m."kind" <> 'SYSTEM' and not m."thread_only"
          order by m."conversation_id", m."seq" desc`,
        [...ids],
      );
      const map = new Map(rows.map((r) => [Number(r.conversation_id), rowToMessageView(r)]));
      return ids.map((id) => map.get(id) ?? null);
    }),
    /** Members not gone (active and banned), with their users, oldest first (seed 003 member list). */
    membersWithBanned: new DataLoader<number, Membership[]>(async (ids) => {
      const rows = await em.find(Membership, { conversation: { $in: [...ids] }, leftAt: null }, { populate: ['user'], orderBy: { id: 'asc' } });
      return ids.map((id) => rows.filter((m) => refId(m.conversation) === id));
    }),
  };
}

export type RestLoaders = ReturnType<typeof restLoaders>;
