import { Field, ID, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar } from '../scalars';
import { ContactStatus, NotificationKind } from './enums';
import { PageInfoType } from './page.type';

/** Contract type Contact. The source object is the Contact entity; requester/addressee are resolved. */
@ObjectType('Contact')
export class ContactType {
  @Field(() => ID) id!: number;
  @Field(() => ContactStatus) status!: ContactStatus;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar) updatedAt!: Date;
}

/** Contract type Notification. The source object is a NotificationView; conversation/message are resolved. */
@ObjectType('Notification')
export class NotificationType {
  @Field(() => ID) id!: number;
  @Field(() => NotificationKind) kind!: NotificationKind;
  @Field(() => String) title!: string;
  @Field(() => String) body!: string;
  @Field(() => DateTimeScalar) createdAt!: string;
}

@ObjectType('NotificationEdge')
export class NotificationEdge {
  @Field(() => String) cursor!: string;
  @Field(() => NotificationType) node!: NotificationType;
}

@ObjectType('NotificationConnection')
export class NotificationConnection {
  @Field(() => [NotificationEdge]) edges!: NotificationEdge[];
  @Field(() => PageInfoType) pageInfo!: PageInfoType;
  @Field(() => Int) totalCount!: number;
  @Field(() => Int, { description: "The viewer's unread notifications, whatever the filter" }) unreadCount!: number;
}
