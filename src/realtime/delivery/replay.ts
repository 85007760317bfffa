import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainEvent } from '../../domain/shared/events';
import { messageColumnsSql, rowToMessageView, type MessageRow } from '../../domain/message/message.writer';

/** Changes committed this long before an outage began are read back too (publishes in flight, clocks of other instances). */
export const REPLAY_MARGIN_MS = 5000;
/** At most this many changes are replayed at once; past it, clients catch up with messagesSince. */
export const REPLAY_MAX_ROWS = 10_000;

/**
 * The message changes (sends, edits, deletes) of `conversations` (and, with `supportThreads`,
 * of every SUPPORT thread) committed since `since`, read back from PostgreSQL as the domain
 * events that announced them, in change order per conversation: a message created since then
 * gives `message.added` (its state now), and a later edit or delete of it gives
 * `message.edited` / `message.deleted` too, and any change since it was created (a reaction:
 * `changed_at`; an edit, a deletion) `message.updated` (issue 31). The hub delivers each change at most once.
 * Used after an outage of the bus between instances (issue 11: gap-free without client help).
 */
export async function missedChanges(em: EntityManager, conversations: readonly number[], supportThreads: boolean, since: Date): Promise<DomainEvent[]> {
  if (!conversations.length && !supportThreads) return [];
  const where: string[] = [];
  const params: unknown[] = [];
  if (conversations.length) {
    where.push(`m."conversation_id" in (${conversations.map(() => '?').join(', ')})`);
    params.push(...conversations);
  }
  if (supportThreads) where.push(`m."conversation_id" in (select "id" from "conversations" where "kind" = 'SUPPORT')`);
  const at = since.toISOString();
  const rows = await em.execute<MessageRow[]>(
    `select ${messageColumnsSql('m')} from "messages" m where (${where.join(' or ')})
       and (m."created_at" >= ?::timestamptz or m."edited_at" >= ?::timestamptz or m."deleted_at" >= ?::timestamptz or m."changed_at" >= ?::timestamptz)
     order by m."conversation_id", m."change_seq" limit ${REPLAY_MAX_ROWS}`,
    [...params, at, at, at, at],
  );
  const events: DomainEvent[] = [];
  for (const row of rows) {
    const view = rowToMessageView(row);
    const { conversationId } = view;
    const createdChange = Number(row.created_change);
    if (new Date(view.createdAt) >= since) events.push({ type: 'message.added', conversationId, message: { ...view, changeSeq: createdChange } });
    if (view.changeSeq === createdChange) continue;
    // An edit or deletion (not a reaction alone: changed_at) keeps its own event, as before.
    const isRecent = (d: string | null) => d != null && new Date(d) >= since;
    if (isRecent(view.createdAt) || isRecent(view.editedAt) || isRecent(view.deletedAt))
      events.push({ type: view.deletedAt ? 'message.deleted' : 'message.edited', conversationId, message: view });
    events.push({ type: 'message.updated', conversationId, message: view });
  }
  return events;
}
