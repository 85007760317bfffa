import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create as contentDisposition } from 'content-disposition';
import { Router, type Request, type Response } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Actor } from '../domain/shared/actor';
import { DomainError } from '../domain/shared/errors';
import type { Services } from '../services';
import type { AvatarVariant } from '../domain/user/avatar.service';

/** A stored file found for a download: its storage key, how it is served, and where its bytes are. */
interface StoredMedia {
  key: string;
  mimeType: string;
  fileName: string;
  /** Shown in the browser (images) rather than downloaded. */
  inline: boolean;
  bytes: { size(key: string): Promise<number>; read(key: string, range?: { start: number; end: number }): Readable };
}

/** A database id in a path: 1 to 2147483647 (an `integer` column), else null. */
const idIn = (s: unknown): number | null => (/^\d{1,10}$/.test(String(s)) && Number(s) <= 2147483647 && Number(s) > 0 ? Number(s) : null);

/**
 * `GET /media/<attachment id>` and `/media/<attachment id>/thumbnail`: attachment downloads for
 * callers who may read the conversation (Bearer token) or who hold a signed URL from
 * `Attachment.url` (so `<img src>` works). Sniffed Content-Type, `nosniff`, inline for images
 * and attachment otherwise, single `Range` requests (RFC 9110 §14) for video. Everyone else: 404.
 * Also users' avatars, `/media/avatars/<user id>/<version>[/thumbnail]` (see UserService.avatarMedia).
 * Paths match case-sensitively (issue 27 §4: `/media/78/THUMBNAIL` is not a route).
 */
export function mediaRouter(services: Services, rootEm: EntityManager, logger: Logger): Router {
  const router = Router({ caseSensitive: true });
  /**
   * Serves what `find` answers for the request (the caller: a Bearer token's actor, or null),
   * with the headers every download gets and single Range requests; 404 when `find` answers
   * null or throws a DomainError, or the bytes are gone.
   */
  const serveStored = (find: (req: Request, em: EntityManager, actor: Actor | null) => Promise<StoredMedia | null>) => async (req: Request, res: Response) => {
    const notFound = () => {
      res.status(404).json({ error: 'Not found', detail: 'Not found' });
    };
    const em = rootEm.fork();
    let actor: Actor | null = null;
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (token) actor = await services.auth.authenticate(em, token).catch(() => null);
    let media: StoredMedia | null;
    let size: number;
    try {
      media = await find(req, em, actor);
      if (!media) return notFound();
      size = await media.bytes.size(media.key);
    } catch (err) {
      if (err instanceof DomainError || (err as { code?: string }).code === 'ENOENT') return notFound();
      throw err;
    }
    res.set({
      'Content-Type': media.mimeType,
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Content-Disposition': contentDisposition(media.fileName, { type: media.inline ? 'inline' : 'attachment' }),
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'private, max-age=300',
    });
    let range: { start: number; end: number } | undefined;
    const ranges = req.headers.range ? req.range(size, { combine: true }) : undefined;
    if (ranges === -1) {
      res.status(416).set('Content-Range', `bytes */${size}`).end();
      return;
    }
    if (Array.isArray(ranges) && ranges.type === 'bytes' && ranges.length === 1) {
      range = { start: ranges[0].start, end: ranges[0].end };
      res.status(206).set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    }
    res.set('Content-Length', String(range ? range.end - range.start + 1 : size));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    try {
      await pipeline(media.bytes.read(media.key, range), res);
    } catch (err) {
      if (!res.headersSent) notFound();
      else if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') logger.warn({ err }, 'media download failed');
      res.destroy();
    }
  };
  const attachment = (variant: 'file' | 'thumbnail') =>
    serveStored(async (req, em, actor) => {
      const id = idIn(req.params.id);
      if (id === null) return null;
      const m = await services.attachments.media(em, actor, id, variant, { exp: req.query.exp, sig: req.query.sig });
      return { ...m, inline: m.mimeType.startsWith('image/'), bytes: services.attachments };
    });
  // Avatars (issue 18): /media/avatars/<user id>/<version>[/thumbnail], for any authenticated
  // caller or a signed URL from User.avatarUrl / avatarThumbnailUrl; 404 for everything else.
  const avatar = (variant: AvatarVariant) =>
    serveStored(async (req, em, actor) => {
      const userId = idIn(req.params.userId);
      const version = /^\d{1,10}$/.test(String(req.params.version)) && Number(req.params.version) <= 2147483647 ? Number(req.params.version) : null;
      const avatars = services.users.avatars;
      if (userId === null || version === null || !avatars) return null;
      const { key } = await services.users.avatarMedia(em, actor, userId, version, variant, { exp: req.query.exp, sig: req.query.sig });
      return { key, mimeType: 'image/webp', fileName: `avatar-${userId}${variant === 'thumbnail' ? '-thumbnail' : ''}.webp`, inline: true, bytes: avatars };
    });
  router.get('/avatars/:userId/:version', avatar('avatar'));
  router.get('/avatars/:userId/:version/thumbnail', avatar('thumbnail'));
  router.get('/:id', attachment('file'));
  router.get('/:id/thumbnail', attachment('thumbnail'));
  return router;
}
