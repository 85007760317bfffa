import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { badInput, forbidden } from '../shared/errors';
import type { EventPublisher, MessageView, NotificationView } from '../shared/events';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import type { RateLimiter } from '../shared/rate-limit';
import { ARCHIVED_MESSAGE, isArchived } from '../conversation/conversation.policy';
import type { ConversationQueries } from '../conversation/conversation.queries';
import type { NotificationService } from '../notification/notification.service';
import { markChanged, nextChange, toMessageView } from './message.writer';
import { requireWritable, type MessageService } from './message.service';

/** Longest emoji accepted, in UTF-16 code units (the longest RGI sequences, families with skin tones, are 35). */
const EMOJI_MAX_UNITS = 64;
const ONE_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/**
 * The one emoji `raw` is, fully qualified (an emoji sent without its VS16, "❤", is stored as
 * "❤️": the two count as one). One Unicode emoji grapheme of the RGI set: skin tones, ZWJ
 * sequences, flags and keycaps count as one; text, two emoji, an empty string are refused.
 * @throws BAD_USER_INPUT naming `emoji`.
 */
export function normalizeEmoji(raw: unknown): string {
  const s = typeof raw === 'string' ? raw.trim() : '';
  const refuse = () => badInput('emoji must be exactly one emoji (skin tones and ZWJ sequences count as one)', 'emoji');
  if (!s || s.length > EMOJI_MAX_UNITS) throw refuse();
  const segments = [...graphemes.segment(s)];
  if (segments.length !== 1) throw refuse();
  if (ONE_EMOJI.test(s)) return s;
  // A text-presentation character without its VS16 ("❤", "☺"): its emoji form.
  const qualified = s.replace(/\uFE0F/g, '').replace(/^(\p{Emoji})(?!\uFE0F)/u, '$1\uFE0F');
  if (ONE_EMOJI.test(qualified) && !/^[0-9#*]/.test(s)) return qualified;
  throw refuse();
}

/** One emoji's reactions on a message (contract ReactionSummary; latestUserIds resolve to users). */
export interface ReactionSummaryView {
  emoji: string;
  count: number;
  /** False when there is no viewer (a shared live execution: the field is per viewer then). */
  reactedByViewer: boolean;
  /** At most 3, newest first. */
  latestUserIds: number[];
}

/** One user's reaction (contract Reaction). */
export interface ReactionView {
  userId: number;
  emoji: string;
  createdAt: string;
}

const CURSOR = 'rct';

/** Refused inside the transaction because nothing changes (an add already there, a removal of nothing): rolls back, publishes nothing. */
class NoChange extends Error {}

/**
 * Reactions (issue 31): add and remove, idempotent on (message, user, emoji); the summaries of a
 * page of messages in one statement; the reactors of one emoji by pages. A change takes the
 * conversation's next change number (messagesSince, replay) and publishes `message.updated`; a
 * reaction to someone's message notifies them (NotificationService.reacted) unless they watch
 * the conversation live. Rules:
 * - adding needs what a send needs (requireWritable in message.service.ts: an active member, or
 *   staff in SUPPORT; not muted, since a muted member adds nothing; no block in a DIRECT chat;
 *   not an archived conversation); removing one's own reaction needs only to see the message (a
 *   muted member may take theirs back), not in an archived conversation;
 * - in a GROUP or ROOM a block does not stop a reaction, but it never notifies across it;
 * - a deleted message takes no reactions and loses none (BAD_USER_INPUT), and shows none;
 * - limits: REACTIONS_MAX_EMOJI_PER_MESSAGE, REACTIONS_MAX_PER_USER_PER_MESSAGE, checked under
 *   the conversation's row lock; a change counts against the sender's message rate limit.
 */
export class ReactionService {
  constructor(
    private readonly events: EventPublisher,
    private readonly queries: ConversationQueries,
    private readonly messages: MessageService,
    private readonly notifications: NotificationService,
    private readonly limits: RateLimiter,
    private readonly max: { maxEmojiPerMessage: number; maxPerUserPerMessage: number },
  ) {}

  /** REACTIONS_MAX_EMOJI_PER_MESSAGE: the most summaries Message.reactions shows. */
  get maxEmojiPerMessage(): number {
    return this.max.maxEmojiPerMessage;
  }

  /**
   * Adds the actor's reaction `emoji` to message `messageId`; returns the message as it now is.
   * Idempotent: a reaction already there changes nothing, publishes nothing, takes no change number.
   * @throws NOT_FOUND (a message the actor may not see), FORBIDDEN (archived, muted, not a member,
   *   a block in a DIRECT chat), BAD_USER_INPUT (emoji, deleted message, limits), RATE_LIMITED.
   */
  async add(scope: Scope, messageId: string, emoji: string): Promise<MessageView> {
    const { message, conversation } = await this.queries.visibleMessage(scope, messageId, 'messageId');
    const e = normalizeEmoji(emoji);
    if (isArchived(conversation)) throw forbidden(ARCHIVED_MESSAGE);
    if (message.deletedAt) throw badInput('A deleted message cannot get reactions', 'messageId');
    requireWritable(scope, await this.queries.sendTarget(scope, conversation.id), 'write');
    if (await this.has(scope.em, message.id, scope.actor.id, e)) return toMessageView(message);
    await this.limits.consume('message', String(scope.actor.id));
    const senderId = message.sender?.id ?? null;
    const notify = senderId != null && senderId !== scope.actor.id && !(await this.notifications.isWatching(conversation.id, senderId));
    let done: { view: MessageView; notice: NotificationView | null };
    try {
      done = await scope.em.transactional(async (tx) => {
        // The conversation's row lock first (as edits and deletes): reactions of one conversation
        // take their turns, so the limits below hold under concurrency.
        const change = await nextChange(tx, conversation.id);
        // Issue 27 §3: the send rights again under the lock (muted, banned, blocked meanwhile).
        requireWritable(scope, await this.queries.sendTarget({ ...scope, em: tx }, conversation.id), 'write');
        const [stats] = await tx.execute<{ kinds: number; mine: number; present: boolean }[]>(
          `select count(distinct "emoji")::int as kinds, (count(*) filter (where "user_id" = ?))::int as mine, coalesce(bool_or("emoji" = ?), false) as present
             from "message_reactions" where "message_id" = ?`,
          [scope.actor.id, e, message.id],
        );
        if (!stats.present && stats.kinds >= this.max.maxEmojiPerMessage)
          throw badInput(`A message has at most ${this.max.maxEmojiPerMessage} different emoji (REACTIONS_MAX_EMOJI_PER_MESSAGE)`, 'emoji');
        const inserted = await tx.execute<{ emoji: string }[]>(
          `insert into "message_reactions" ("message_id", "user_id", "emoji", "created_at") values (?, ?, ?, ?) on conflict do nothing returning "emoji"`,
          [message.id, scope.actor.id, e, new Date()],
        );
        if (!inserted.length) throw new NoChange();
        if (stats.mine >= this.max.maxPerUserPerMessage)
          throw badInput(`One user has at most ${this.max.maxPerUserPerMessage} reactions on a message (REACTIONS_MAX_PER_USER_PER_MESSAGE)`, 'emoji');
        const view = await markChanged(tx, conversation.id, message.id, change);
        if (!view) throw badInput('A deleted message cannot get reactions', 'messageId');
        const notice = notify
          ? await this.notifications.reacted(tx, {
              recipientId: senderId!,
              reactorId: scope.actor.id,
              emoji: e,
              conversationId: conversation.id,
              messageId: message.id,
              content: view.content,
            })
          : null;
        return { view, notice };
      });
    } catch (err) {
      if (err instanceof NoChange) return this.messages.get(scope, String(message.id));
      throw err;
    }
    this.messages.publishUpdated(done.view);
    if (done.notice) this.notifications.publishViews([done.notice]);
    return done.view;
  }

  /**
   * Removes the actor's reaction `emoji` from message `messageId`; returns the message as it now
   * is. Idempotent: removing a reaction that is not there changes nothing and publishes nothing.
   * @throws NOT_FOUND, FORBIDDEN (archived), BAD_USER_INPUT (emoji, deleted message), RATE_LIMITED.
   */
  async remove(scope: Scope, messageId: string, emoji: string): Promise<MessageView> {
    const { message, conversation } = await this.queries.visibleMessage(scope, messageId, 'messageId');
    const e = normalizeEmoji(emoji);
    if (isArchived(conversation)) throw forbidden(ARCHIVED_MESSAGE);
    if (message.deletedAt) throw badInput('A deleted message has no reactions to remove', 'messageId');
    if (!(await this.has(scope.em, message.id, scope.actor.id, e))) return toMessageView(message);
    await this.limits.consume('message', String(scope.actor.id));
    let view: MessageView;
    try {
      view = await scope.em.transactional(async (tx) => {
        const change = await nextChange(tx, conversation.id);
        const removed = await tx.execute<{ emoji: string }[]>(
          `delete from "message_reactions" where "message_id" = ? and "user_id" = ? and "emoji" = ? returning "emoji"`,
          [message.id, scope.actor.id, e],
        );
        if (!removed.length) throw new NoChange();
        const changed = await markChanged(tx, conversation.id, message.id, change);
        if (!changed) throw badInput('A deleted message has no reactions to remove', 'messageId');
        return changed;
      });
    } catch (err) {
      if (err instanceof NoChange) return this.messages.get(scope, String(message.id));
      throw err;
    }
    this.messages.publishUpdated(view);
    return view;
  }

  /**
   * The reactors of one emoji on a message the caller already showed (its access was checked:
   * Message.reactors), oldest first, `first` (default 20, at most 100) after cursor `after`.
   * @throws BAD_USER_INPUT (emoji, first, after).
   */
  async reactors(em: EntityManager, message: MessageView, emoji: string, args: { first?: number | null; after?: string | null }): Promise<Page<ReactionView>> {
    const e = normalizeEmoji(emoji);
    const size = pageSize(args.first, 20, 100, 'first');
    let after: [number, number] | null = null;
    if (args.after) {
      const [ms, user] = decodeCursor(args.after, CURSOR, 'after', 2);
      if (!/^\d{1,15}$/.test(ms) || !/^\d{1,10}$/.test(user)) throw badInput('after is not a valid cursor', 'after');
      after = [Number(ms), Number(user)];
    }
    if (message.deletedAt) return connectionFrom([], size, () => '', 0, false);
    const rows = await em.execute<{ user_id: number; created_at: Date | string; total: number }[]>(
      `select r."user_id", r."created_at", (select count(*)::int from "message_reactions" t where t."message_id" = ? and t."emoji" = ?) as total
         from "message_reactions" r where r."message_id" = ? and r."emoji" = ?
         ${after ? 'and (r."created_at", r."user_id") > (?::timestamptz, ?)' : ''}
        order by r."created_at", r."user_id" limit ${size + 1}`,
      [message.id, e, message.id, e, ...(after ? [new Date(after[0]).toISOString(), after[1]] : [])],
    );
    const total =
      rows[0]?.total ??
      (await em.execute<{ n: number }[]>('select count(*)::int as n from "message_reactions" where "message_id" = ? and "emoji" = ?', [message.id, e]))[0].n;
    const nodes = rows.map((r) => ({ userId: Number(r.user_id), emoji: e, createdAt: new Date(r.created_at).toISOString() }));
    return connectionFrom(nodes, size, (n) => encodeCursor(CURSOR, new Date(n.createdAt).getTime(), n.userId), total, after != null);
  }

  /** Whether the user has that reaction on the message (the idempotent shortcut; the transaction decides under the lock). */
  private async has(em: EntityManager, messageId: number, userId: number, emoji: string): Promise<boolean> {
    const rows = await em.execute('select 1 from "message_reactions" where "message_id" = ? and "user_id" = ? and "emoji" = ?', [messageId, userId, emoji]);
    return rows.length > 0;
  }
}

/**
 * The reaction summaries of messages `ids` in one statement (the request's batch loader,
 * read-model/loaders.ts): per message, most used first (ties: the emoji used first, first), with the
 * count, whether `viewerId` reacted with it, and the 3 newest reactors.
 */
export async function reactionSummaries(em: EntityManager, ids: readonly number[], viewerId: number | null): Promise<ReactionSummaryView[][]> {
  if (!ids.length) return [];
  const rows = await em.execute<{ message_id: number; emoji: string; n: number; mine: boolean; latest: number[] | string }[]>(
    `select r."message_id", r."emoji", count(*)::int as n, coalesce(bool_or(r."user_id" = ?), false) as mine,
            (array_agg(r."user_id" order by r."created_at" desc, r."user_id" desc))[1:3] as latest
       from "message_reactions" r where r."message_id" in (${ids.map(() => '?').join(', ')})
      group by r."message_id", r."emoji"
      order by r."message_id", count(*) desc, min(r."created_at"), r."emoji"`,
    [viewerId ?? 0, ...ids],
  );
  const byMessage = new Map<number, ReactionSummaryView[]>();
  for (const r of rows) {
    const id = Number(r.message_id);
    let list = byMessage.get(id);
    if (!list) byMessage.set(id, (list = []));
    const latest = typeof r.latest === 'string' ? r.latest.replace(/[{}]/g, '').split(',').filter(Boolean).map(Number) : r.latest.map(Number);
    list.push({ emoji: r.emoji, count: Number(r.n), reactedByViewer: viewerId != null && Boolean(r.mine), latestUserIds: latest });
  }
  return ids.map((id) => byMessage.get(id) ?? []);
}
