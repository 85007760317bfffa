import { Entity, Index, ManyToOne, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { Message } from './message.entity';

/**
 * One user's reaction with one emoji to one message (issue 31). The key is (message, user, emoji):
 * adding twice changes nothing, and a count is the number of rows (exact, never below zero).
 * Written with raw SQL by ReactionService; the entity describes the table.
 */
@Entity({ tableName: 'message_reactions' })
@Index({ name: 'message_reactions_message_emoji_index', properties: ['message', 'emoji', 'createdAt'] })
export class MessageReaction {
  [PrimaryKeyProp]?: ['message', 'user', 'emoji'];
  [OptionalProps]?: 'createdAt';

  @ManyToOne(() => Message, { primary: true, deleteRule: 'cascade' })
  message!: Message;

  @ManyToOne(() => User, { primary: true, deleteRule: 'cascade' })
  user!: User;

  /** One RGI emoji, fully qualified (ReactionService.normalizeEmoji). */
  @PrimaryKey({ type: 'string', length: 64 })
  emoji!: string;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();
}
