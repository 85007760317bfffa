import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { PushPlatform } from '../../domain/push/push-device.entity';
import { NotificationLevel } from '../../domain/push/push.policy';
import { DateTimeScalar } from '../scalars';

registerEnumType(PushPlatform, { name: 'PushPlatform' });

/** Contract type PushDevice. The source object is the PushDevice entity. */
@ObjectType('PushDevice')
export class PushDeviceType {
  @Field(() => ID) id!: number;
  @Field(() => PushPlatform) platform!: PushPlatform;
  @Field(() => String, { nullable: true, description: 'Shown in the device list ("Chrome on Linux")' }) name?: string | null;
  @Field(() => DateTimeScalar) createdAt!: Date;
  @Field(() => DateTimeScalar, { nullable: true, description: 'When a push last reached it' }) lastPushAt?: Date | null;
}

/** Contract input WebPushSubscriptionInput: PushSubscription.toJSON() of a browser (endpoint, keys.p256dh, keys.auth). */
@InputType('WebPushSubscriptionInput')
export class WebPushSubscriptionInput {
  @Field(() => String, { description: 'https:// URL of the browser push service' }) endpoint!: string;
  @Field(() => String, { description: 'base64url P-256 public key' }) p256dh!: string;
  @Field(() => String, { description: 'base64url authentication secret' }) auth!: string;
}

/** Contract input RegisterPushDeviceInput. */
@InputType('RegisterPushDeviceInput')
export class RegisterPushDeviceInput {
  @Field(() => PushPlatform) platform!: PushPlatform;
  @Field(() => String, { nullable: true, description: 'FCM registration token (platform FCM)' }) fcmToken?: string | null;
  @Field(() => WebPushSubscriptionInput, { nullable: true, description: 'platform WEB_PUSH' }) webPush?: WebPushSubscriptionInput | null;
  @Field(() => String, { nullable: true, description: 'Shown in the device list ("Chrome on Linux")' }) name?: string | null;
}

registerEnumType(NotificationLevel, { name: 'NotificationLevel', description: "What of a conversation reaches the member's devices while offline" });
