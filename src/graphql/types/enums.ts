import { registerEnumType } from 'type-graphql';
import { ContactStatus } from '../../domain/contact/contact.entity';
import { ConversationKind, MemberRole, RoomVisibility } from '../../domain/conversation/conversation.entity';
import { MessageKind } from '../../domain/message/message.entity';
import { NotificationKind } from '../../domain/notification/notification.entity';

/** Presence of a user (contract: PresenceStatus). */
export enum PresenceStatus { ONLINE = 'ONLINE', OFFLINE = 'OFFLINE' }

registerEnumType(ConversationKind, { name: 'ConversationKind' });
registerEnumType(RoomVisibility, { name: 'RoomVisibility' });
registerEnumType(MemberRole, { name: 'MemberRole' });
registerEnumType(MessageKind, { name: 'MessageKind' });
registerEnumType(PresenceStatus, { name: 'PresenceStatus' });
registerEnumType(ContactStatus, { name: 'ContactStatus' });
registerEnumType(NotificationKind, { name: 'NotificationKind' });

export { ContactStatus, ConversationKind, MemberRole, MessageKind, NotificationKind, RoomVisibility };
