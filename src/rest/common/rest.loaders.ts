import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Membership } from '../../domain/conversation/membership.entity';
import type { UserCache } from '../../domain/user/user-cache';
import { createLoaders } from '../../graphql/loaders';
import { refId } from '../../domain/shared/refs';


/**
 * Batch loaders for one REST request: the same read-only loaders GraphQL's field resolvers use
 * (users, conversations, messages, members, read positions, unread counts), plus the members a
 * moderator sees (banned ones too). Presenters use them only after the domain call checked access.
 */
export function restLoaders(em: EntityManager, viewerId: number | null, users: UserCache) {
  return {
    ...createLoaders(em, viewerId, users),
    /** Members not gone (active and banned), with their users, oldest first (seed 003 member list). */
    membersWithBanned: new DataLoader<number, Membership[]>(async (ids) => {
      const rows = await em.find(Membership, { conversation: { $in: [...ids] }, leftAt: null }, { populate: ['user'], orderBy: { id: 'asc' } });
      return ids.map((id) => rows.filter((m) => refId(m.conversation) === id));
    }),
  };
}

export type RestLoaders = ReturnType<typeof restLoaders>;
