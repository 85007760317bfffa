import type { Scope } from '../shared/actor';
import { badInput, conflict, notFound, parseId } from '../shared/errors';
import { checkOutboundUrl } from '../shared/outbound-url';
import { cleanText } from '../shared/text';
import { validate, z } from '../shared/validate';
import { PushDevice, PushPlatform } from './push-device.entity';

/** Most devices one user may register (past it: CONFLICT; unregister one first). */
export const MAX_DEVICES_PER_USER = 50;

/** An FCM registration token or fcm-django `registration_id`: 1..4096 visible ASCII characters (FCM tokens are about 160). */
const fcmToken = z
  .string()
  .trim()
  .min(1)
  .max(4096)
  .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters without spaces');
/** base64url (RFC 4648 section 5), as PushSubscription.toJSON() gives `keys.p256dh` and `keys.auth`. */
const base64url = (max: number) =>
  z
    .string()
    .trim()
    .min(16)
    .max(max)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url');

const registerSchema = z.object({
  platform: z.enum(PushPlatform),
  fcmToken: fcmToken.nullish(),
  webPush: z
    .object({
      endpoint: z.string().trim().max(2048).url(),
      p256dh: base64url(255),
      auth: base64url(255),
    })
    .nullish(),
  name: cleanText({ max: 255 }).nullish(),
  /** fcm-django `type`. */
  fcmType: z.enum(['android', 'ios', 'web']).nullish(),
  /** fcm-django `device_id`. */
  deviceId: cleanText({ max: 255 }).nullish(),
  /** fcm-django `active` (default true). */
  active: z.boolean().nullish(),
});

/** What {@link PushDeviceService.register} takes (contract RegisterPushDeviceInput, plus fcm-django's own fields). */
export type RegisterPushDevice = z.input<typeof registerSchema>;

/**
 * Push devices (issue 28 item 10, seed 002's fcm-django FCMDevice; contract "Push notifications and
 * webhooks"): register, list, unregister. Only the table and its API: issue 34 delivers to it.
 */
export class PushDeviceService {
  /**
   * @param options.allowPrivate OUTBOUND_ALLOW_PRIVATE: Web Push endpoints may be http:// and private addresses (tests, development).
   * @param options.webPushPublicKey VAPID_PUBLIC_KEY, or null when Web Push is not configured.
   */
  constructor(private readonly options: { allowPrivate: boolean; webPushPublicKey: string | null } = { allowPrivate: false, webPushPublicKey: null }) {}

  /** The VAPID public key for PushManager.subscribe (contract webPushPublicKey), null when Web Push is not configured. */
  webPushPublicKey(): string | null {
    return this.options.webPushPublicKey;
  }

  /**
   * Registers the actor's device, idempotent per FCM token or Web Push endpoint: one statement
   * (`insert ... on conflict do update`), so a burst of the same registration leaves one row, and
   * a token or endpoint registered by someone else moves to the actor (the device changed hands).
   * @returns the device, and whether it was new.
   * @throws BAD_USER_INPUT (fcmToken missing for FCM, webPush missing for WEB_PUSH, either given for the
   *   other platform, a bad token, endpoint or key, name too long), CONFLICT past {@link MAX_DEVICES_PER_USER}.
   */
  async register(scope: Scope, input: RegisterPushDevice): Promise<{ device: PushDevice; created: boolean }> {
    const data = validate(registerSchema, input);
    const fcm = data.platform === PushPlatform.FCM;
    if (fcm && !data.fcmToken) throw badInput('fcmToken is required for platform FCM', 'fcmToken');
    if (!fcm && !data.webPush) throw badInput('webPush is required for platform WEB_PUSH', 'webPush');
    if (fcm && data.webPush) throw badInput('webPush is for platform WEB_PUSH', 'webPush');
    if (!fcm && data.fcmToken) throw badInput('fcmToken is for platform FCM', 'fcmToken');
    if (!fcm && data.fcmType) throw badInput('type is for FCM devices', 'fcmType');
    // SSRF (issue 34): a Web Push endpoint is https:// and resolves only to public addresses (checked again at every push).
    if (!fcm) await checkOutboundUrl(data.webPush!.endpoint, this.options.allowPrivate, 'webPush.endpoint');
    const token = fcm ? data.fcmToken! : data.webPush!.endpoint;
    const owned = await scope.em.count(PushDevice, { user: scope.actor.id, $not: { platform: data.platform, token } });
    if (owned >= MAX_DEVICES_PER_USER) throw conflict(`At most ${MAX_DEVICES_PER_USER} push devices per user: unregister one first`);
    const now = new Date();
    const [row] = await scope.em.execute<(Record<string, unknown> & { inserted: boolean })[]>(
      `insert into "push_devices" ("user_id", "platform", "token", "p256dh", "auth", "fcm_type", "name", "device_id", "active", "created_at", "updated_at")
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict ("platform", "token") do update set
         "user_id" = excluded."user_id", "p256dh" = excluded."p256dh", "auth" = excluded."auth",
         "fcm_type" = coalesce(excluded."fcm_type", "push_devices"."fcm_type"),
         "name" = coalesce(excluded."name", "push_devices"."name"),
         "device_id" = coalesce(excluded."device_id", "push_devices"."device_id"),
         "active" = excluded."active", "updated_at" = excluded."updated_at"
       returning *, (xmax = 0) as inserted`,
      [
        scope.actor.id,
        data.platform,
        token,
        data.webPush?.p256dh ?? null,
        data.webPush?.auth ?? null,
        data.fcmType ?? null,
        data.name || null,
        data.deviceId || null,
        data.active ?? true,
        now,
        now,
      ],
    );
    const { inserted, ...columns } = row;
    return { device: scope.em.map(PushDevice, columns), created: Boolean(inserted) };
  }

  /** The actor's devices, oldest first. */
  list(scope: Scope): Promise<PushDevice[]> {
    return scope.em.find(PushDevice, { user: scope.actor.id }, { orderBy: { id: 'asc' } });
  }

  /** Removes one of the actor's devices by id. @throws NOT_FOUND for another user's device or none (no existence leak). */
  async unregister(scope: Scope, id: string | number): Promise<boolean> {
    const n = await scope.em.nativeDelete(PushDevice, { id: parseId(id, 'id'), user: scope.actor.id });
    if (!n) throw notFound('Push device');
    return true;
  }

  /** Removes the actor's FCM device with that registration token (fcm-django's lookup field). @throws NOT_FOUND as {@link unregister}. */
  async unregisterToken(scope: Scope, registrationId: string): Promise<void> {
    const n = await scope.em.nativeDelete(PushDevice, { platform: PushPlatform.FCM, token: registrationId, user: scope.actor.id });
    if (!n) throw notFound('Push device');
  }
}
