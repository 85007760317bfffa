import type { AvatarFields } from '../../domain/user/avatar.service';
import type { RestContext } from './route.registry';
import { absoluteUrl } from './views.helpers';

/**
 * A user's avatar URLs for the dialects' user shapes (seed 000 `avatar`, seed 001 `avatar` and
 * `avatar_thumbnail`, seed 004 `profile_picture`): the signed URLs of GraphQL's User.avatarUrl
 * and avatarThumbnailUrl (UserService.avatarUrlsOf), absolute as the seeds show them: PUBLIC_URL
 * when set, else this request's origin. Nulls when the user has no avatar.
 */
export function avatarOf(ctx: RestContext, u: AvatarFields): { url: string | null; thumbnailUrl: string | null } {
  const { url, thumbnailUrl } = ctx.services.users.avatarUrlsOf(u);
  return { url: absoluteUrl(ctx, url), thumbnailUrl: absoluteUrl(ctx, thumbnailUrl) };
}
