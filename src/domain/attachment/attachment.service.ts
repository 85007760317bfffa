import { UrlSigner } from '../shared/url-signer';
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput, conflict, notFound } from '../shared/errors';
import type { Actor, Scope } from '../shared/actor';
import type { ConversationQueries } from '../conversation/conversation.queries';
import { removeKeys, type BlobStorage } from './blob-storage';
import { Attachment } from './attachment.entity';
import { checkDeclaredSize, mediaPathKey, mimeFromName, nameFromUrl, parseFileUrl, type FileReferenceInput, type ParsedFileUrl } from './file-reference';
import {
  ALLOWED_TYPES as ALLOWED,
  checkPixels,
  decodeSlot,
  newStorageKey as newKey,
  payloadTooLarge,
  readImageHeader,
  receiveUpload,
  uploadError,
} from './image-checks';

/** One file of a GraphQL multipart request (graphql-upload-ts FileUpload) or a REST upload. */
export interface UploadedFile {
  filename: string;
  /** @throws an error with `status` 413 when the transport already cut the file at the size limit. */
  createReadStream(): Readable;
}

/** A file checked and stored, not yet tied to a message. */
export interface StoredFile {
  /** Set when these are the facts of an upload not yet linked (seed 003 note 7): the send takes that row ({@link AttachmentService.addReference}). */
  uploadId?: number;
  storageKey: string;
  thumbnailKey: string | null;
  fileName: string;
  mimeType: string;
  size: number;
  width: number | null;
  height: number | null;
}

/** An external link checked (seed 003 `file_url` of another site): never fetched; see Attachment. */
export interface ExternalFile {
  externalUrl: string;
  fileName: string;
  /** Guessed from `fileName`. */
  mimeType: string;
  /** As the sender declared it; null: not given. */
  size: number | null;
}

/**
 * A file reference checked by {@link AttachmentService.checkReference}: an external link to keep,
 * or an attachment of this server (`ownMediaId`) to link once the sender's access is checked.
 */
export type CheckedReference = { external: ExternalFile; kind: 'IMAGE' | 'FILE' } | { ownMediaId: number; fileName: string | null; kind: 'IMAGE' | 'FILE' };

/** The id of a reference (an entity or its id), null when none. */
const refOf = (u: { id: number } | number | null | undefined): number | null => (u == null ? null : typeof u === 'number' ? u : u.id);

/** `/media/<id>` or `/media/<id>/thumbnail` (what urlFor makes), with an optional trailing slash. */
const MEDIA_PATH = /^\/media\/(\d{1,10})(\/thumbnail)?\/?$/;

/** A host without its scheme's default port, lower case (`Example.com:443` and `example.com` are one). */
const hostKey = (host: string) =>
  host
    .trim()
    .toLowerCase()
    .replace(/:(80|443)$/, '');

/** Upload limits (config UPLOAD_MAX_BYTES, UPLOAD_MAX_FILES). */
export interface UploadLimits {
  /** Largest file, in bytes (seed 004: 10 MB). */
  maxBytes: number;
  /** Most files on one message. */
  maxFiles: number;
  /** Long side of image thumbnails, in pixels. */
  thumbnailPx?: number;
  /** Most pixels (width x height) of an image (UPLOAD_MAX_PIXELS, default 40 million). */
  maxPixels?: number;
  /** Most uploads not yet sent one user may hold (UPLOAD_PENDING_MAX, default 20). */
  maxPending?: number;
}

const MAX_FILE_NAME = 255;

/**
 * Checks a client file name, kept as metadata only: 1..255 characters, no path separators, no
 * control characters (NUL included), an extension. @throws BAD_USER_INPUT naming `field`.
 */
export function checkFileName(name: unknown, field = 'attachments'): string {
  const s = typeof name === 'string' ? name.normalize('NFC').trim() : '';
  if (!s || [...s].length > MAX_FILE_NAME) throw badInput(`File name must be 1 to ${MAX_FILE_NAME} characters`, field);
  // Control characters are exactly what this refuses.
  // eslint-disable-next-line no-control-regex
  if (/[/\\]/.test(s) || /[\u0000-\u001f\u007f-\u009f]/.test(s) || s === '.' || s === '..') {
    throw badInput('File name must not contain path separators or control characters', field);
  }
  return s;
}

/**
 * Attachments (seeds 001, 003, 004): streams uploads into storage with the limits enforced while
 * streaming, sniffs the type from the bytes (file-type) against the allow-list and the
 * extension, records image dimensions and makes a thumbnail (sharp), and signs the short-lived
 * download URLs that `Attachment.url` returns. A failure leaves no file behind.
 */
export class AttachmentService {
  private readonly signer: UrlSigner;

  /**
   * @param secret server secret the URL-signing key is derived from (the JWT secret).
   * @param urlTtlSec lifetime of signed URLs, in seconds (Config MEDIA_URL_TTL_S).
   * @param publicUrl absolute base for URLs; empty: paths.
   */
  constructor(
    private readonly storage: BlobStorage,
    readonly limits: UploadLimits,
    secret: Uint8Array,
    private readonly urlTtlSec: number,
    private readonly publicUrl = '',
    /** Who may read a conversation (downloads without a signed URL). */
    private readonly queries?: Pick<ConversationQueries, 'access'>,
  ) {
    this.signer = new UrlSigner(secret, 'media-url-v1');
  }

  /**
   * What `GET /media/<id>[/thumbnail]` serves: the attachment's stored bytes, when the request
   * carries a valid signed URL (`exp`, `sig` from Attachment.url) or comes from an actor who may
   * read the conversation. Deleted messages' attachments are no longer served, and an external
   * attachment (a link, see Attachment) has no bytes here: never fetched, never proxied.
   * @throws NOT_FOUND for everything else (no existence leak).
   */
  async media(
    em: EntityManager,
    actor: Actor | null,
    attachmentId: number,
    variant: 'file' | 'thumbnail',
    signed: { exp?: unknown; sig?: unknown },
  ): Promise<{ key: string; mimeType: string; fileName: string }> {
    const a = await em.findOne(Attachment, { id: attachmentId }, { populate: ['message'] });
    const key = variant === 'thumbnail' ? a?.thumbnailKey : a?.storageKey;
    if (!a || !key || a.message?.deletedAt) throw notFound('Attachment');
    if (!this.verifyUrl(a.id, variant, signed.exp, signed.sig)) {
      if (!actor || !this.queries) throw notFound('Attachment');
      // An upload not yet sent (no message): its uploader's alone.
      if (!a.message) {
        if (refOf(a.uploader) !== actor.id) throw notFound('Attachment');
      } else
        await this.queries.access({ actor, em }, a.message.conversation.id).catch(() => {
          throw notFound('Attachment');
        });
    }
    return variant === 'thumbnail'
      ? { key, mimeType: 'image/webp', fileName: a.fileName.replace(/\.[^.]*$/, '') + '-thumbnail.webp' }
      : { key, mimeType: a.mimeType, fileName: a.fileName };
  }

  /**
   * Stores every file, in order, or none: on the first failure the files already stored are
   * removed. `existing` counts files the message already has.
   * @throws PAYLOAD_TOO_LARGE (too many files, a file over the limit), UNSUPPORTED_MEDIA_TYPE, BAD_USER_INPUT (file name).
   */
  async storeAll(files: (UploadedFile | Promise<UploadedFile>)[], existing = 0): Promise<StoredFile[]> {
    if (files.length + existing > this.limits.maxFiles) throw payloadTooLarge(`At most ${this.limits.maxFiles} files per message`);
    const stored: StoredFile[] = [];
    try {
      for (const file of files)
        stored.push(
          await this.store(
            await Promise.resolve(file).catch((err) => {
              throw uploadError(err);
            }),
          ),
        );
      return stored;
    } catch (err) {
      await this.discard(stored);
      throw err;
    }
  }

  /** Removes stored files that will not be used (a failed send). */
  async discard(files: StoredFile[]): Promise<void> {
    await removeKeys(
      this.storage,
      files.flatMap((f) => [f.storageKey, f.thumbnailKey]),
    );
  }

  /**
   * Gives message `toId` the attachments of message `fromId` (a forward, issue 31), inside the
   * caller's transaction: new rows sharing the stored bytes (same storage and thumbnail keys, never
   * copied; external links stay links). The source rows are held FOR SHARE until the commit, so an
   * account deletion erasing them waits and then sees the new rows: bytes are removed only when no
   * row uses them (AccountService.erase), and a message's deletion removes no bytes.
   * @returns how many rows were added.
   */
  async copyRows(em: EntityManager, fromId: number, toId: number, uploaderId: number): Promise<number> {
    const rows = await em.execute<{ id: number }[]>(
      `with src as (select * from "attachments" where "message_id" = ? order by "id" for share)
       insert into "attachments" ("message_id", "uploader_id", "file_name", "mime_type", "size", "width", "height", "storage_key", "thumbnail_key", "external_url", "created_at")
       select ?, ?, "file_name", "mime_type", "size", "width", "height", "storage_key", "thumbnail_key", "external_url", now() from src order by "id"
       returning "id"`,
      [fromId, toId, uploaderId],
    );
    return rows.length;
  }

  /** Inserts the attachment rows of a message (inside the caller's transaction). */
  addRows(em: EntityManager, messageId: number, uploaderId: number, files: StoredFile[]): Attachment[] {
    return files.map((f) => em.create(Attachment, { message: messageId, uploader: uploaderId, ...f }));
  }

  /**
   * Checks a file given by reference (seed 003 "2.2 发送消息" `file_url`, `file_name`,
   * `file_size`; the URL is never fetched). A URL of this server's own media is recognised by
   * its `/media/<id>[/thumbnail]` path (in any spelling the router could serve: case, percent
   * escapes, doubled slashes; `mediaPathKey`) on PUBLIC_URL's host or `serverHost` (the host the request
   * came to), as a bare `/media/<id>` path, or by a signature of this server (a signed URL, even
   * expired, whatever host it names); it answers `ownMediaId`, to be linked by
   * {@link linkOwnMedia}. Any other http(s) URL is an external link: its name is `fileName`
   * (checked as uploads' names are) or the URL's last path segment, its MIME type guessed from
   * that name, its size the declared one.
   * @throws BAD_USER_INPUT naming fileUrl (missing, too long, not http/https: `javascript:` and
   *   `data:` among them, credentials, a `/media/` path of this server naming no file), fileName,
   *   fileSize (not a whole number from 0 to 2147483647).
   */
  checkReference(input: FileReferenceInput, serverHost?: string | null): CheckedReference {
    const parsed = parseFileUrl(input.url);
    const given = input.fileName == null || (typeof input.fileName === 'string' && !input.fileName.trim()) ? null : checkFileName(input.fileName, 'fileName');
    const size = checkDeclaredSize(input.size);
    const own = this.ownMediaIn(parsed, serverHost);
    if (own === 'none') throw badInput('fileUrl names no file of this server', 'fileUrl');
    if (own != null) return { ownMediaId: own, fileName: given, kind: input.kind };
    const u = (parsed as { absolute: URL }).absolute;
    const fileName = given ?? nameFromUrl(u.pathname);
    return { external: { externalUrl: u.href, fileName, mimeType: mimeFromName(fileName), size }, kind: input.kind };
  }

  /**
   * The facts of this server's attachment `attachmentId` for a new message that links it (seed
   * 003 sends the URL of a file uploaded before): the same stored bytes (shared, never copied),
   * when `actor` may read its message's conversation and that message is not deleted, as
   * `/media/<id>` itself decides (a signature alone is not enough: it would turn a short-lived
   * link into a lasting one). `fileName` replaces the file's own name when given.
   * @throws BAD_USER_INPUT naming fileUrl, the same for a file that does not exist, is external
   *   or that the actor may not see (no existence leak).
   */
  async linkOwnMedia(em: EntityManager, actor: Actor, attachmentId: number, fileName: string | null): Promise<StoredFile> {
    const refuse = () => badInput('fileUrl names a file of this server that you may not see', 'fileUrl');
    const a = await em.findOne(Attachment, { id: attachmentId }, { populate: ['message'] });
    if (!a || !a.storageKey || a.size == null || a.message?.deletedAt || !this.queries) throw refuse();
    // An upload not yet sent (seed 003 note 7): its uploader's alone, whoever else holds its URL.
    if (!a.message) {
      if (refOf(a.uploader) !== actor.id) throw refuse();
    } else {
      await this.queries.access({ actor, em }, a.message.conversation.id).catch(() => {
        throw refuse();
      });
    }
    return {
      ...(a.message ? {} : { uploadId: a.id }),
      storageKey: a.storageKey,
      thumbnailKey: a.thumbnailKey ?? null,
      fileName: fileName ?? a.fileName,
      mimeType: a.mimeType,
      size: a.size,
      width: a.width ?? null,
      height: a.height ?? null,
    };
  }

  /**
   * The attachment row of a message sent with a file reference (inside the caller's transaction):
   * a new row, or, for the uploader's own upload not yet sent ({@link upload}), that row itself,
   * taken in one conditional statement. When a concurrent send took it first, the message shares
   * its bytes (a new row, as for any linked file); when it was purged meanwhile, nothing is left to link.
   * @throws BAD_USER_INPUT naming fileUrl when the upload expired (purged) between the check and the send.
   */
  async addReference(em: EntityManager, messageId: number, uploaderId: number, file: StoredFile | ExternalFile): Promise<void> {
    if ('uploadId' in file && file.uploadId != null) {
      const { uploadId, ...facts } = file;
      const taken = await em.execute<{ id: number }[]>(
        'update "attachments" set "message_id" = ?, "file_name" = ? where "id" = ? and "message_id" is null and "uploader_id" = ? returning "id"',
        [messageId, facts.fileName, uploadId, uploaderId],
      );
      if (taken.length) return;
      const still = await em.execute<{ id: number }[]>('select "id" from "attachments" where "id" = ?', [uploadId]);
      if (!still.length) throw badInput('fileUrl names an upload that expired; upload the file again', 'fileUrl');
      file = facts;
    }
    const row = 'externalUrl' in file ? { ...file, width: null, height: null, storageKey: null, thumbnailKey: null } : { ...file, externalUrl: null };
    em.create(Attachment, { message: messageId, uploader: uploaderId, ...row });
  }

  /**
   * Stores one file for a later file message (seed 003 note 7, "upload the file first to get a
   * URL, then send the message"): checked like every attachment ({@link storeAll}: size, sniffed
   * type, pixels, thumbnail), kept as a row without a message that only `uploaderId` may link
   * (a seed-003 send naming its URL), and purged by {@link purgeUploads} when never sent.
   * @throws CONFLICT past `limits.maxPending` unsent uploads of the actor (UPLOAD_PENDING_MAX), and as {@link storeAll}.
   */
  async upload(scope: Scope, file: UploadedFile | Promise<UploadedFile>): Promise<Attachment> {
    const { em } = scope;
    const uploaderId = scope.actor.id;
    const maxPending = this.limits.maxPending ?? 20;
    const pending = await em.count(Attachment, { message: null, uploader: uploaderId });
    if (pending >= maxPending) throw conflict(`You have ${pending} uploads not yet sent (at most ${maxPending}): send them or wait until they expire`);
    const [stored] = await this.storeAll([file]);
    try {
      const row = em.create(Attachment, { message: null, uploader: uploaderId, ...stored });
      await em.flush();
      return row;
    } catch (err) {
      await this.discard([stored]);
      throw err;
    }
  }

  /**
   * Deletes the uploads never sent that are older than `before` (UPLOAD_ORPHAN_TTL ago), rows
   * first, then their stored bytes (an upload's bytes are never shared: a send takes the row).
   * @returns how many were purged.
   */
  async purgeUploads(em: EntityManager, before: Date): Promise<number> {
    const rows = await em.execute<{ storage_key: string | null; thumbnail_key: string | null }[]>(
      'delete from "attachments" where "message_id" is null and "created_at" < ? returning "storage_key", "thumbnail_key"',
      [before],
    );
    await removeKeys(
      this.storage,
      rows.flatMap((r) => [r.storage_key, r.thumbnail_key]),
    );
    return rows.length;
  }

  /** The URL of an attachment's file: an external one's own link, else this server's signed URL (urlFor). */
  fileUrlOf(a: Pick<Attachment, 'id' | 'externalUrl'>, now = Date.now()): string {
    return a.externalUrl ?? this.urlFor(a.id, 'file', now);
  }

  /** The message kind for a set of files: IMAGE when all are images, FILE otherwise (seed 003). */
  static kindOf(files: StoredFile[]): 'IMAGE' | 'FILE' {
    return files.every((f) => f.mimeType.startsWith('image/')) ? 'IMAGE' : 'FILE';
  }

  /** The signed download URL of an attachment or its thumbnail, valid for the configured TTL. */
  urlFor(attachmentId: number, variant: 'file' | 'thumbnail', now = Date.now()): string {
    const exp = Math.floor(now / 1000) + this.urlTtlSec;
    const path = `/media/${attachmentId}${variant === 'thumbnail' ? '/thumbnail' : ''}`;
    return `${this.publicUrl}${path}?exp=${exp}&sig=${this.signer.sign([attachmentId, variant], exp)}`;
  }

  /** True when `sig` signs (id, variant, exp) and `exp` (seconds) has not passed. */
  verifyUrl(attachmentId: number, variant: 'file' | 'thumbnail', exp: unknown, sig: unknown): boolean {
    return this.signer.verify([attachmentId, variant], exp, sig);
  }

  /** Size of stored bytes. @throws when they are gone. */
  size(key: string): Promise<number> {
    return this.storage.size(key);
  }

  /** Reads stored bytes (whole, or an inclusive byte range). */
  read(key: string, range?: { start: number; end: number }): Readable {
    return this.storage.read(key, range);
  }

  /**
   * The attachment id a parsed file URL names on this server: a number, `'none'` for a `/media/`
   * path of this server naming no attachment, null for another site's URL.
   */
  private ownMediaIn(parsed: ParsedFileUrl, serverHost?: string | null): number | 'none' | null {
    const ownHosts = [this.publicUrl ? new URL(this.publicUrl).host : null, serverHost ?? null].filter((h): h is string => Boolean(h)).map(hostKey);
    const own = 'path' in parsed || ownHosts.includes(hostKey(parsed.absolute.host));
    // PUBLIC_URL may carry a path (https://x.example/chat): its media are under <path>/media/.
    // Compared in every spelling the router (or a proxy before it) could serve: case, escapes, slashes (issue 27 §4).
    const base = this.publicUrl ? mediaPathKey(new URL(this.publicUrl).pathname).replace(/\/+$/, '') : '';
    const full = mediaPathKey('path' in parsed ? parsed.path : parsed.absolute.pathname);
    const path = base && full.startsWith(`${base}/media/`) ? full.slice(base.length) : full;
    const search = 'path' in parsed ? parsed.search : parsed.absolute.search;
    const m = MEDIA_PATH.exec(path);
    if (m && Number(m[1]) <= 2147483647) {
      const id = Number(m[1]);
      if (own || this.signedHere(id, m[2] ? 'thumbnail' : 'file', new URLSearchParams(search))) return id;
      return null;
    }
    return own && /^\/media(\/|$)/.test(path) ? 'none' : null;
  }

  /** True when `exp`/`sig` of a URL's query sign (id, variant, exp) with this server's key, expired or not. */
  private signedHere(id: number, variant: 'file' | 'thumbnail', query: URLSearchParams): boolean {
    return this.signer.signs([id, variant], query.get('exp'), query.get('sig'));
  }

  private async store(file: UploadedFile): Promise<StoredFile> {
    const fileName = checkFileName(file.filename);
    const { storageKey, mimeType, size } = await receiveUpload(this.storage, file, {
      fileName,
      maxBytes: this.limits.maxBytes,
      allowed: ALLOWED,
      what: 'image or video',
      field: 'attachments',
    });
    const stored: StoredFile = { storageKey, thumbnailKey: null, fileName, mimeType, size, width: null, height: null };
    if (mimeType.startsWith('image/')) {
      try {
        Object.assign(stored, await this.imageFacts(storageKey));
      } catch (err) {
        await this.discard([stored]);
        throw err;
      }
    }
    return stored;
  }

  /**
   * Width/height and a thumbnail (long side `thumbnailPx`, never enlarged) of a stored image.
   * Formats sharp cannot decode (HEIC) get neither. The header is read first: an image over
   * `maxPixels` is refused without being decoded; thumbnails are made one at a time.
   * @throws PAYLOAD_TOO_LARGE for an image of more than `maxPixels` pixels.
   */
  private async imageFacts(key: string): Promise<Pick<StoredFile, 'width' | 'height' | 'thumbnailKey'>> {
    const px = this.limits.thumbnailPx ?? 256;
    const maxPixels = this.limits.maxPixels ?? 40_000_000;
    const meta = await readImageHeader(this.storage, key);
    if (!meta) return { width: null, height: null, thumbnailKey: null };
    checkPixels(meta, maxPixels);
    return decodeSlot(() => this.thumbnail(key, meta, px, maxPixels));
  }

  private async thumbnail(
    key: string,
    meta: { width?: number; height?: number; orientation?: number },
    px: number,
    maxPixels: number,
  ): Promise<Pick<StoredFile, 'width' | 'height' | 'thumbnailKey'>> {
    const swap = (meta.orientation ?? 1) >= 5; // EXIF rotated by 90°: width and height as displayed
    const width = (swap ? meta.height : meta.width) ?? null;
    const height = (swap ? meta.width : meta.height) ?? null;
    const thumbnailKey = newKey();
    try {
      const resizer = sharp({ animated: false, limitInputPixels: maxPixels })
        .rotate()
        .resize(px, px, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 });
      await this.storage.write(thumbnailKey, this.storage.read(key).pipe(resizer));
    } catch {
      await this.storage.delete(thumbnailKey);
      return { width, height, thumbnailKey: null };
    }
    return { width, height, thumbnailKey };
  }
}
