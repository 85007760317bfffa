import { registerEnumType } from 'type-graphql';
import { ContactStatus } from '../../domain/contact/contact.entity';
import { ConversationKind, MemberRole, RoomVisibility } from '../../domain/conversation/conversation.entity';
import { MessageKind } from '../../domain/message/message.entity';
import { NotificationKind } from '../../domain/notification/notification.entity';

/** Presence of a user (contract: PresenceStatus). */
export enum PresenceStatus {
  ONLINE = 'ONLINE',
  OFFLINE = 'OFFLINE',
}

/** Who sees a user's presence and last-seen time (contract: PresenceVisibility; issue 27 §5). */
export enum PresenceVisibility {
  EVERYONE = 'EVERYONE',
  CONTACTS = 'CONTACTS',
  NOBODY = 'NOBODY',
}

registerEnumType(ConversationKind, { name: 'ConversationKind' });
registerEnumType(RoomVisibility, { name: 'RoomVisibility' });
registerEnumType(MemberRole, { name: 'MemberRole' });
registerEnumType(MessageKind, { name: 'MessageKind' });
registerEnumType(PresenceStatus, { name: 'PresenceStatus' });
registerEnumType(PresenceVisibility, {
  name: 'PresenceVisibility',
  valuesConfig: {
    EVERYONE: { description: 'Every signed-in user' },
    CONTACTS: { description: 'Accepted contacts and co-members (people sharing a conversation); the default' },
    NOBODY: { description: 'Nobody but the user (always OFFLINE, lastSeenAt null for others)' },
  },
});
registerEnumType(ContactStatus, { name: 'ContactStatus' });
registerEnumType(NotificationKind, { name: 'NotificationKind' });

export { ContactStatus, ConversationKind, MemberRole, MessageKind, NotificationKind, RoomVisibility };
