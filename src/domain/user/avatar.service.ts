import { UrlSigner } from '../shared/url-signer';
import sharp from 'sharp';
import { removeKeys, type BlobStorage } from '../attachment/blob-storage';
import { checkFileName, type UploadedFile } from '../attachment/attachment.service';
import { ALLOWED_TYPES, checkPixels, decodeSlot, newStorageKey, readImageHeader, receiveUpload, unsupported } from '../attachment/image-checks';
import type { UserRecord } from './user-cache';

/** The image types an avatar may be: the attachment allow-list's images that sharp decodes (not HEIC, no video). */
const AVATAR_TYPES: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  ['jpg', 'jpeg', 'png', 'gif', 'webp', 'avif'].map((ext) => [ext, ALLOWED_TYPES[ext]]),
);

/** Long side of the stored avatar, px (never enlarged). */
export const AVATAR_PX = 512;
/** Side of the square thumbnail, px (seed 001 `avatar_thumbnail`, its 150x150 example). */
export const AVATAR_THUMBNAIL_PX = 150;

/** Avatar settings (from Config: UPLOAD_MAX_BYTES, UPLOAD_MAX_PIXELS, MEDIA_URL_TTL_S, PUBLIC_URL). */
export interface AvatarOptions {
  /** Largest upload, bytes. */
  maxBytes: number;
  /** Most pixels (width x height) of the uploaded image. */
  maxPixels: number;
  /** Signed URLs are valid for at least this many seconds (and at most twice as long). */
  urlTtlSec: number;
  /** Absolute base for URLs; empty: paths. */
  publicUrl: string;
}

/** An avatar stored by {@link AvatarService.store}, not yet on a user. */
export interface StoredAvatar {
  key: string;
  thumbnailKey: string;
}

/** The fields of a user that name their avatar. */
export type AvatarFields = Pick<UserRecord, 'id' | 'avatarUrl' | 'avatarKey' | 'avatarThumbnailKey' | 'avatarVersion'>;

/** A user's avatar URLs (contract: User.avatarUrl, User.avatarThumbnailUrl). */
export interface AvatarUrls {
  url: string | null;
  thumbnailUrl: string | null;
}

/** `avatar` or its `thumbnail`. */
export type AvatarVariant = 'avatar' | 'thumbnail';

/**
 * Avatars (issue 18): checks an upload with the attachment pipeline's rules (image-checks.ts:
 * size limit and type sniffed while streaming, pixel limit from the header before decoding, one
 * decode at a time), stores it re-encoded (WebP, at most 512x512, EXIF orientation applied and
 * metadata such as GPS dropped) with a 150x150 square thumbnail, and signs the URLs that serve
 * them, `/media/avatars/<user id>/<version>[/thumbnail]?exp=&sig=`, with a key of their own
 * (derived from the server secret with another label than attachments', so neither signature
 * opens the other's files).
 */
export class AvatarService {
  private readonly signer: UrlSigner;

  /** @param secret the server secret the URL key is derived from (the JWT secret). */
  constructor(
    private readonly storage: BlobStorage,
    private readonly opts: AvatarOptions,
    secret: Uint8Array,
  ) {
    this.signer = new UrlSigner(secret, 'avatar-url-v1');
  }

  /**
   * Checks and stores an uploaded avatar: the image and its thumbnail, or nothing (the upload as
   * received is removed once both are made, and everything on a failure).
   * @throws BAD_USER_INPUT naming `file` (file name, a transport failure); PAYLOAD_TOO_LARGE (over
   *   UPLOAD_MAX_BYTES or UPLOAD_MAX_PIXELS); UNSUPPORTED_MEDIA_TYPE (not a jpg/jpeg/png/gif/webp/avif
   *   image by its bytes and extension, or one that cannot be decoded).
   */
  async store(file: UploadedFile): Promise<StoredAvatar> {
    const fileName = checkFileName(file.filename, 'file');
    const received = await receiveUpload(this.storage, file, {
      fileName,
      maxBytes: this.opts.maxBytes,
      allowed: AVATAR_TYPES,
      what: `image (${Object.keys(AVATAR_TYPES).join(', ')})`,
      field: 'file',
    });
    const key = newStorageKey();
    const thumbnailKey = newStorageKey();
    try {
      const meta = await readImageHeader(this.storage, received.storageKey);
      if (!meta) throw unsupported('The image cannot be decoded');
      checkPixels(meta, this.opts.maxPixels);
      await decodeSlot(async () => {
        const source = () => this.storage.read(received.storageKey).pipe(sharp({ animated: false, limitInputPixels: this.opts.maxPixels }).rotate());
        try {
          await this.storage.write(key, source().resize(AVATAR_PX, AVATAR_PX, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 85 }));
          await this.storage.write(thumbnailKey, source().resize(AVATAR_THUMBNAIL_PX, AVATAR_THUMBNAIL_PX, { fit: 'cover' }).webp({ quality: 80 }));
        } catch {
          throw unsupported('The image cannot be decoded');
        }
      });
      return { key, thumbnailKey };
    } catch (err) {
      await this.discard([key, thumbnailKey]);
      throw err;
    } finally {
      await this.discard([received.storageKey]);
    }
  }

  /** Removes stored avatar files (replaced, removed, or never used); missing ones and nulls are skipped, failures ignored. */
  async discard(keys: readonly (string | null | undefined)[]): Promise<void> {
    await removeKeys(this.storage, keys);
  }

  /**
   * A user's avatar URLs: the uploaded avatar's signed URLs (`exp` rounded so that a URL stays the
   * same for `urlTtlSec` seconds and browsers can cache it; valid at least that long), else the
   * legacy external `avatarUrl` with no thumbnail, else nulls. Paths unless PUBLIC_URL is set.
   */
  urlsOf(u: AvatarFields, now = Date.now()): AvatarUrls {
    if (!u.avatarKey) return { url: u.avatarUrl ?? null, thumbnailUrl: null };
    const ttl = Math.max(1, this.opts.urlTtlSec);
    const exp = (Math.floor(now / 1000 / ttl) + 2) * ttl;
    const url = (variant: AvatarVariant) => {
      const path = `/media/avatars/${u.id}/${u.avatarVersion}${variant === 'thumbnail' ? '/thumbnail' : ''}`;
      return `${this.opts.publicUrl}${path}?exp=${exp}&sig=${this.signer.sign([u.id, u.avatarVersion, variant], exp)}`;
    };
    return { url: url('avatar'), thumbnailUrl: u.avatarThumbnailKey ? url('thumbnail') : null };
  }

  /** True when `sig` signs (user id, version, variant, exp) and `exp` (seconds since the epoch) has not passed. */
  verifyUrl(userId: number, version: number, variant: AvatarVariant, exp: unknown, sig: unknown): boolean {
    return this.signer.verify([userId, version, variant], exp, sig);
  }

  /** Size of stored bytes. @throws when they are gone. */
  size(key: string): Promise<number> {
    return this.storage.size(key);
  }

  /** Reads stored bytes (whole, or an inclusive byte range). */
  read(key: string, range?: { start: number; end: number }) {
    return this.storage.read(key, range);
  }
}
