import { z } from 'zod';
import type { MessageView } from '../../domain/shared/events';
import type { RestContext } from '../common/route.registry';
import * as g from '../d001-groups/presenters';
import * as c from '../d004-conversations/presenters';

/**
 * The `/api/messages/{id}/` resource shared by seeds 001 and 004 (rest-compat.md "Conflicts"):
 * the union of both message objects; `sender` is the union of both user shapes.
 */
export const unionSenderSchema = g.senderSchema.extend(c.userSchema.shape);
export const unionMessageSchema = g.messageSchema.extend(c.messageSchema.shape).extend({ sender: unionSenderSchema.nullable() });

/** A message with every key of seed 001's and seed 004's message objects. */
export async function presentUnionMessage(ctx: RestContext, m: MessageView): Promise<z.output<typeof unionMessageSchema>> {
  const [a, b] = await Promise.all([g.presentMessage(ctx, m), c.presentMessage(ctx, m)]);
  return { ...a, ...b, sender: a.sender && b.sender ? { ...a.sender, ...b.sender } : null };
}
