import { OptionalProps, Entity, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { User } from '../user/user.entity';

/** Where a push goes (contract PushPlatform): Firebase Cloud Messaging, or a browser's Web Push subscription (RFC 8030). */
export enum PushPlatform {
  FCM = 'FCM',
  WEB_PUSH = 'WEB_PUSH',
}

/**
 * A device that receives pushes for its user (issue 28 item 10: seed 002's fcm-django `FCMDevice`,
 * registered through `POST /api/devices/` or GraphQL `registerPushDevice`; issue 34 delivers).
 * One row per FCM registration token or Web Push endpoint (`token`, unique per platform):
 * registering it again updates the row and moves it to the caller (a phone changes hands, a user
 * logs in as someone else on the same browser).
 */
@Entity({ tableName: 'push_devices' })
@Unique({ name: 'push_devices_platform_token_unique', properties: ['platform', 'token'] })
export class PushDevice {
  [OptionalProps]?: 'active' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @Index()
  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user!: User;

  @Property({ type: 'string', length: 16 })
  platform!: PushPlatform;

  /** FCM: the registration token (fcm-django `registration_id`). WEB_PUSH: the subscription's endpoint URL. */
  @Property({ type: 'string', length: 4096 })
  token!: string;

  /** WEB_PUSH: the subscription's P-256 public key (base64url, RFC 8291). */
  @Property({ type: 'string', length: 255, nullable: true })
  p256dh?: string | null;

  /** WEB_PUSH: the subscription's authentication secret (base64url, RFC 8291). */
  @Property({ type: 'string', length: 255, nullable: true })
  auth?: string | null;

  /** FCM: fcm-django's `type`, android, ios or web (null when registered through GraphQL). */
  @Property({ type: 'string', length: 16, nullable: true })
  fcmType?: string | null;

  /** Shown in the device list ("Chrome on Linux"). */
  @Property({ type: 'string', length: 255, nullable: true })
  name?: string | null;

  /** fcm-django's `device_id` (the app's own device identifier), as given. */
  @Property({ type: 'string', length: 255, nullable: true })
  deviceId?: string | null;

  /** fcm-django's `active`: false keeps the device registered but sends it nothing. */
  @Property({ type: 'boolean', default: true })
  active: boolean = true;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime' })
  updatedAt: Date = new Date();

  /** When a push last reached it (issue 34's delivery sets it). */
  @Property({ type: 'datetime', nullable: true })
  lastPushAt?: Date | null;
}
