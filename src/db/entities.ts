import { Attachment } from '../domain/attachment/attachment.entity';
import { RefreshToken } from '../domain/auth/refresh-token.entity';
import { ReservedUsername } from '../domain/auth/reserved-username.entity';
import { Contact } from '../domain/contact/contact.entity';
import { Conversation } from '../domain/conversation/conversation.entity';
import { Membership } from '../domain/conversation/membership.entity';
import { Message } from '../domain/message/message.entity';
import { MessageRevision } from '../domain/message/message-revision.entity';
import { MessageReaction } from '../domain/message/reaction.entity';
import { Notification } from '../domain/notification/notification.entity';
import { PushDevice } from '../domain/push/push-device.entity';
import { User } from '../domain/user/user.entity';

/** Every entity of the data model (architecture.md). */
export const entities = [
  User,
  RefreshToken,
  Conversation,
  Membership,
  Message,
  Attachment,
  Contact,
  Notification,
  ReservedUsername,
  PushDevice,
  MessageRevision,
  MessageReaction,
];
