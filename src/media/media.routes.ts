import { pipeline } from 'node:stream/promises';
import { create as contentDisposition } from 'content-disposition';
import { Router, type Request, type Response } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Actor } from '../domain/shared/actor';
import { DomainError } from '../domain/shared/errors';
import type { Services } from '../services';
import type { AvatarVariant } from '../domain/user/avatar.service';

/**
 * `GET /media/<attachment id>` and `/media/<attachment id>/thumbnail`: attachment downloads for
 * callers who may read the conversation (Bearer token) or who hold a signed URL from
 * `Attachment.url` (so `<img src>` works). Sniffed Content-Type, `nosniff`, inline for images
 * and attachment otherwise, single `Range` requests (RFC 9110 §14) for video. Everyone else: 404.
 * Also users' avatars, `/media/avatars/<user id>/<version>[/thumbnail]` (see UserService.avatarMedia).
 */
export function mediaRouter(services: Services, rootEm: EntityManager, logger: Logger): Router {
  const router = Router();
  const serve = (variant: 'file' | 'thumbnail') => async (req: Request, res: Response) => {
    const notFound = () => { res.status(404).json({ error: 'Not found', detail: 'Not found' }); };
    const id = String(req.params.id);
    if (!/^\d{1,10}$/.test(id) || Number(id) > 2147483647) return notFound();
    const em = rootEm.fork();
    let actor: Actor | null = null;
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (token) actor = await services.auth.authenticate(em, token).catch(() => null);
    let media;
    let size: number;
    try {
      media = await services.attachments.media(em, actor, Number(id), variant, { exp: req.query.exp, sig: req.query.sig });
      size = await services.attachments.size(media.key);
    } catch (err) {
      if (err instanceof DomainError) return notFound();
      throw err;
    }
    res.set({
      'Content-Type': media.mimeType,
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Content-Disposition': contentDisposition(media.fileName, { type: media.mimeType.startsWith('image/') ? 'inline' : 'attachment' }),
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
    if (req.method === 'HEAD') { res.end(); return; }
    try {
      await pipeline(services.attachments.read(media.key, range), res);
    } catch (err) {
      if (!res.headersSent) notFound();
      else if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') logger.warn({ err }, 'media download failed');
      res.destroy();
    }
  };
  // Avatars (issue 18): /media/avatars/<user id>/<version>[/thumbnail], for any authenticated
  // caller or a signed URL from User.avatarUrl / avatarThumbnailUrl; 404 for everything else.
  const serveAvatar = (variant: AvatarVariant) => async (req: Request, res: Response) => {
    const notFound = () => { res.status(404).json({ error: 'Not found', detail: 'Not found' }); };
    const userId = String(req.params.userId);
    const version = String(req.params.version);
    if (!/^\d{1,10}$/.test(userId) || Number(userId) > 2147483647 || !/^\d{1,10}$/.test(version) || Number(version) > 2147483647) return notFound();
    const avatars = services.users.avatars;
    if (!avatars) return notFound();
    const em = rootEm.fork();
    let actor: Actor | null = null;
    const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (token) actor = await services.auth.authenticate(em, token).catch(() => null);
    let key: string;
    let size: number;
    try {
      key = (await services.users.avatarMedia(em, actor, Number(userId), Number(version), variant, { exp: req.query.exp, sig: req.query.sig })).key;
      size = await avatars.size(key);
    } catch (err) {
      if (err instanceof DomainError) return notFound();
      if ((err as { code?: string }).code === 'ENOENT') return notFound();
      throw err;
    }
    res.set({
      'Content-Type': 'image/webp',
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Content-Disposition': contentDisposition(`avatar-${userId}${variant === 'thumbnail' ? '-thumbnail' : ''}.webp`, { type: 'inline' }),
      'Content-Length': String(size),
      'Cache-Control': 'private, max-age=300',
    });
    if (req.method === 'HEAD') { res.end(); return; }
    try {
      await pipeline(avatars.read(key), res);
    } catch (err) {
      if (!res.headersSent) notFound();
      else if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') logger.warn({ err }, 'avatar download failed');
      res.destroy();
    }
  };
  router.get('/avatars/:userId/:version', serveAvatar('avatar'));
  router.get('/avatars/:userId/:version/thumbnail', serveAvatar('thumbnail'));
  router.get('/:id', serve('file'));
  router.get('/:id/thumbnail', serve('thumbnail'));
  return router;
}
