import type { EntityManager } from '@mikro-orm/postgresql';
import type { PushConfig } from '../config/config';
import { activeMembershipSql } from '../domain/conversation/conversation.policy';
import { levelAllows, notificationLevelSql, pushPreview, type NotificationLevel } from '../domain/push/push.policy';
import type { PresenceTracker } from '../domain/shared/live-state';
import type { OutboxHandler, OutboxRow, Outcome } from '../outbox/outbox-worker';

/** What a device receives for one message (the delivery row's payload; the same for Web Push and FCM). */
export interface PushContent {
  messageId: number;
  conversationId: number;
  /** The recipient's unread messages in the conversation, this one included (the badge). */
  unreadCount: number;
  /** Collapse id per conversation (Web Push `Topic`, FCM `collapse_key`, the notification's `tag`). */
  collapseKey: string;
  /** Absent with PUSH_CONTENT=none. */
  title?: string;
  /** Absent with PUSH_CONTENT=sender or none. */
  body?: string;
  /** DIRECT messages and mentions are urgent (Web Push `Urgency: high`). */
  urgent: boolean;
}

interface Recipient {
  user_id: number;
  level: NotificationLevel;
  mentioned: boolean;
  /** Issue 32: a reply in a thread the recipient follows. */
  follows: boolean;
  staff: boolean;
  unread: number;
}

/**
 * The fan-out (issue 34, "When a push is sent"): a `push:message` row, written by the send, becomes
 * one `push:delivery` row per device of each recipient, keyed `push:<message>:<device>` (never twice).
 * Recipients: the conversation's active members, and for a customer's message in a SUPPORT thread
 * every staff user (seed 002 `send_push_to_staff`); never the sender, nor anyone blocked by or
 * blocking the sender, nor one whose level refuses it (push.policy.ts), nor one who already read it.
 * Phase `send` (due at once): recipients with a live socket on any instance are given PUSH_DELAY_MS
 * to read it (a `late` row, due then); the others are pushed now. Phase `late`: those still unread.
 */
export class PushFanout implements OutboxHandler {
  readonly maxAttempts = 5;
  /** Called with the number of rows a fan-out wrote, in the transaction that records it (the metrics' `queued`). */
  onQueued: (rows: number) => void = () => undefined;

  constructor(
    private readonly config: PushConfig,
    private readonly presence: PresenceTracker,
  ) {}

  backoffMs(attempts: number): number {
    return Math.min(60_000, 1000 * 2 ** attempts);
  }

  async handle(row: OutboxRow, em: EntityManager): Promise<Outcome> {
    const p = row.payload as { messageId: number; phase: 'send' | 'late'; users?: number[] };
    const [msg] = await em.execute<
      {
        id: number;
        seq: number;
        thread_root_id: number | null;
        thread_only: boolean;
        conversation_id: number;
        sender_id: number;
        content: string;
        kind: string;
        name: string | null;
        sender_name: string;
        sender_staff: boolean;
      }[]
    >(
      `select m."id", m."seq", m."thread_root_id", m."thread_only", m."conversation_id", m."sender_id", m."content", c."kind", c."name", u."is_staff" as "sender_staff",
              coalesce(nullif(trim(concat_ws(' ', u."first_name", u."last_name")), ''), u."username") as "sender_name"
         from "messages" m join "conversations" c on c."id" = m."conversation_id" join "users" u on u."id" = m."sender_id"
        where m."id" = ? and m."deleted_at" is null`,
      [p.messageId],
    );
    if (!msg) return { done: true, note: 'message deleted before its push' };
    const threadOnly = Boolean(msg.thread_only) && msg.thread_root_id != null;
    const recipients = await em.execute<Recipient[]>(
      `with cand as (
         select mb."user_id", mb."last_read_seq", ${notificationLevelSql('mb', 'c')} as "level", false as "staff_only"
           from "memberships" mb join "conversations" c on c."id" = mb."conversation_id"
          where mb."conversation_id" = ? and ${activeMembershipSql('mb')}
         union all
         select u."id", 0, 'ALL', true from "users" u
          where ? and u."is_staff" and u."deleted_at" is null
            and not exists (select 1 from "memberships" mb where mb."conversation_id" = ? and mb."user_id" = u."id" and ${activeMembershipSql('mb')}))
       select cand."user_id", cand."level", ru."is_staff" as "staff",
              (select m."mention_ids" from "messages" m where m."id" = ?) @> jsonb_build_array(cand."user_id") as "mentioned",
              ${
                msg.thread_root_id != null
                  ? `exists (select 1 from "thread_reads" ft where ft."root_id" = ${Number(msg.thread_root_id)} and ft."user_id" = cand."user_id" and ft."following")`
                  : 'false'
              } as "follows",
              (select count(*)::int from "messages" x where x."conversation_id" = ? and x."seq" > cand."last_read_seq"
                  and x."deleted_at" is null and not x."thread_only" and x."sender_id" is distinct from cand."user_id") as "unread"
         from cand join "users" ru on ru."id" = cand."user_id" and ru."deleted_at" is null
        where cand."user_id" <> ? and ${
          // Issue 32: a reply shown only in its thread goes to the thread's followers who have not read it there.
          threadOnly
            ? `exists (select 1 from "thread_reads" tr where tr."root_id" = ? and tr."user_id" = cand."user_id" and tr."following" and tr."last_read_seq" < ?)`
            : `cand."last_read_seq" < ?`
        }
          ${p.users ? `and cand."user_id" in (select (jsonb_array_elements_text(?::jsonb))::int)` : ''}
          and not exists (select 1 from "contacts" k where k."status" = 'BLOCKED'
                and ((k."requester_id" = cand."user_id" and k."addressee_id" = ?) or (k."requester_id" = ? and k."addressee_id" = cand."user_id")))`,
      [
        msg.conversation_id,
        msg.kind === 'SUPPORT' && !msg.sender_staff,
        msg.conversation_id,
        msg.id,
        msg.conversation_id,
        msg.sender_id,
        ...(threadOnly ? [msg.thread_root_id] : []),
        msg.seq,
        ...(p.users ? [JSON.stringify(p.users)] : []),
        msg.sender_id,
        msg.sender_id,
      ],
    );
    // A reply in a thread the recipient follows counts as a mention for the level (MENTIONS lets it through; NONE does not).
    const wanted = recipients.filter((r) => levelAllows(r.level, r.mentioned || r.follows));
    const now: Recipient[] = [];
    const later: number[] = [];
    if (p.phase === 'send' && this.config.delayMs > 0) {
      const online = await Promise.all(wanted.map((r) => this.presence.isOnline(r.user_id).catch(() => false)));
      wanted.forEach((r, i) => (online[i] ? later.push(r.user_id) : now.push(r)));
    } else now.push(...wanted);
    const platforms = [...(this.config.webPush ? ['WEB_PUSH'] : []), ...(this.config.fcm ? ['FCM'] : [])];
    const devices = now.length
      ? await em.execute<{ id: number; user_id: number }[]>(
          `select "id", "user_id" from "push_devices" where "active" and "user_id" in (${now.map(() => '?').join(', ')}) and "platform" in (${platforms.map(() => '?').join(', ')})`,
          [...now.map((r) => r.user_id), ...platforms],
        )
      : [];
    const byUser = new Map(now.map((r) => [r.user_id, r]));
    const deliveries = devices.map((d) => {
      const r = byUser.get(d.user_id)!;
      return { key: `push:${msg.id}:${d.id}`, target: d.id, payload: this.content(msg, r) };
    });
    return {
      done: true,
      note: `${deliveries.length} device(s) now, ${later.length} recipient(s) online: again in PUSH_DELAY_MS`,
      also: async (tx) => {
        const at = new Date();
        let written = 0;
        if (deliveries.length) {
          const rows = await tx.execute(
            `insert into "outbox" ("channel", "kind", "key", "target_id", "payload", "due_at", "created_at")
             select 'push', 'delivery', d."key", d."target", d."payload", ?, ? from jsonb_to_recordset(?::jsonb) as d("key" text, "target" int, "payload" jsonb)
             on conflict ("key") do nothing returning "id"`,
            [at, at, JSON.stringify(deliveries)],
          );
          written += rows.length;
        }
        if (later.length) {
          const rows = await tx.execute(
            `insert into "outbox" ("channel", "kind", "key", "payload", "due_at", "created_at") values ('push', 'message', ?, ?::jsonb, ?, ?) on conflict ("key") do nothing returning "id"`,
            [`push:${msg.id}:late`, JSON.stringify({ messageId: msg.id, phase: 'late', users: later }), new Date(at.getTime() + this.config.delayMs), at],
          );
          written += rows.length;
        }
        if (written) this.onQueued(written);
      },
    };
  }

  /** The push for one recipient, by PUSH_CONTENT (full: sender and the first 100 characters; sender; none: ids only). */
  private content(
    msg: { id: number; conversation_id: number; content: string; kind: string; name: string | null; sender_name: string },
    r: Recipient,
  ): PushContent {
    const base = {
      messageId: msg.id,
      conversationId: msg.conversation_id,
      unreadCount: r.unread,
      collapseKey: `c${msg.conversation_id}`,
      urgent: msg.kind === 'DIRECT' || r.mentioned,
    };
    if (this.config.content === 'none') return base;
    // Seed 002's staff push: "Tin nhắn mới từ <name>", the first 100 characters.
    const title = msg.kind === 'SUPPORT' && r.staff ? `Tin nhắn mới từ ${msg.sender_name}` : msg.name ? `${msg.sender_name} · ${msg.name}` : msg.sender_name;
    if (this.config.content === 'sender') return { ...base, title };
    return { ...base, title, body: pushPreview(msg.content) };
  }
}
