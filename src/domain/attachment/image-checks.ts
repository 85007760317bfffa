import { randomBytes } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { DomainError, badInput } from '../shared/errors';
import type { BlobStorage } from './blob-storage';

/**
 * The upload checks shared by attachments (attachment.service.ts) and avatars
 * (src/domain/user/avatar.service.ts): the allow-list, the byte limit and type sniffing while
 * the upload streams into storage, the pixel limit read from an image's header before any
 * decoding, and the one-decode-at-a-time slot (issue 4, issue 13).
 */

/** PAYLOAD_TOO_LARGE (REST 413) with `message`. */
export const payloadTooLarge = (message: string) => new DomainError('PAYLOAD_TOO_LARGE', message);
/** UNSUPPORTED_MEDIA_TYPE (REST 415) with `message`. */
export const unsupported = (message: string) => new DomainError('UNSUPPORTED_MEDIA_TYPE', message);

/**
 * The allow-list (seed 004: jpg/jpeg/png/mp4/mov/webp/gif/heic/avif): file-name extension ->
 * the MIME types sniffed from the bytes that may carry it (the two must agree).
 */
export const ALLOWED_TYPES: Readonly<Record<string, readonly string[]>> = {
  jpg: ['image/jpeg'],
  jpeg: ['image/jpeg'],
  png: ['image/png'],
  gif: ['image/gif'],
  webp: ['image/webp'],
  heic: ['image/heic', 'image/heif', 'image/heic-sequence', 'image/heif-sequence'],
  avif: ['image/avif'],
  mp4: ['video/mp4', 'video/x-m4v'],
  mov: ['video/quicktime'],
};

/** Bytes file-type needs to recognise every allowed format. */
const SNIFF_BYTES = 4100;

/**
 * Images decoded at once on this instance (thumbnails, avatars): a decode takes a libuv thread and
 * a core for as long as the image needs, so the rest of the server keeps the other (issue 13: four
 * concurrent 16000x16000 PNGs stalled every request for seconds). libvips uses one thread an image.
 */
const DECODES_AT_ONCE = 1;
sharp.concurrency(1);
let decoding = 0;
const waiting: (() => void)[] = [];

/** Runs `work` (a sharp decode) when this instance's decode slot is free; one at a time, in arrival order. */
export async function decodeSlot<T>(work: () => Promise<T>): Promise<T> {
  if (decoding >= DECODES_AT_ONCE) await new Promise<void>((r) => waiting.push(r));
  decoding++;
  try {
    return await work();
  } finally {
    decoding--;
    waiting.shift()?.();
  }
}

/** A new random storage key (32 hex characters), never derived from a client's file name. */
export function newStorageKey(): string {
  return randomBytes(16).toString('hex');
}

/** Counts bytes (failing past the limit) and keeps the first bytes for sniffing, passing data on. */
class LimitAndSniff extends Transform {
  bytes = 0;
  private head: Buffer[] = [];
  private headBytes = 0;
  private sniffed = false;

  constructor(
    private readonly maxBytes: number,
    private readonly check: (head: Buffer) => Promise<void>,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(payloadTooLarge(`File exceeds the ${this.maxBytes} byte limit`));
      return;
    }
    if (this.sniffed) {
      done(null, chunk);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) {
      done();
      return;
    }
    this.sniff(done);
  }

  override _flush(done: TransformCallback): void {
    if (this.sniffed) {
      done();
      return;
    }
    this.sniff(done);
  }

  private sniff(done: TransformCallback): void {
    this.sniffed = true;
    const head = Buffer.concat(this.head);
    this.head = [];
    this.check(head.subarray(0, SNIFF_BYTES)).then(
      () => done(null, head),
      (err) => done(err),
    );
  }
}

/** One file being uploaded: its client name and its bytes (graphql-upload-ts FileUpload, a REST part). */
export interface IncomingFile {
  /** @throws an error with `status` 413 when the transport already cut the file at the size limit. */
  createReadStream(): Readable;
}

/** What {@link receiveUpload} stored. */
export interface ReceivedFile {
  storageKey: string;
  /** Sniffed from the bytes. */
  mimeType: string;
  /** Bytes. */
  size: number;
}

/** Options of {@link receiveUpload}. */
export interface ReceiveOptions {
  /** The checked client file name (checkFileName): its extension must be in `allowed`. */
  fileName: string;
  /** Largest file in bytes (UPLOAD_MAX_BYTES). */
  maxBytes: number;
  /** Extension -> sniffed MIME types accepted for it (a subset of {@link ALLOWED_TYPES}). */
  allowed: Readonly<Record<string, readonly string[]>>;
  /** What the allow-list holds, for the refusal ("image or video", "image"). */
  what: string;
  /** The input field named by a transport failure (BAD_USER_INPUT). */
  field: string;
}

/**
 * Streams an upload into `storage` under a new key with the limits enforced while the bytes
 * arrive: at most `maxBytes`, its type sniffed from the first bytes (file-type) and required to
 * be one `allowed` lists for the file name's extension. A refused or failed upload leaves nothing
 * under the key.
 * @throws PAYLOAD_TOO_LARGE past `maxBytes`; UNSUPPORTED_MEDIA_TYPE (an extension not allowed,
 *   content of another type, an empty file); BAD_USER_INPUT naming `field` when the transport
 *   fails (an aborted request).
 */
export async function receiveUpload(storage: BlobStorage, file: IncomingFile, opts: ReceiveOptions): Promise<ReceivedFile> {
  const ext = /\.([A-Za-z0-9]+)$/.exec(opts.fileName)?.[1]?.toLowerCase() ?? '';
  const accepted = opts.allowed[ext];
  if (!accepted) throw unsupported(`File type .${ext || '?'} is not allowed (${Object.keys(opts.allowed).join(', ')})`);
  let mimeType = '';
  const limiter = new LimitAndSniff(opts.maxBytes, async (head) => {
    const type = await fileTypeFromBuffer(head);
    if (!type || !Object.values(opts.allowed).some((list) => list.includes(type.mime))) throw unsupported(`The file content is not an allowed ${opts.what}`);
    if (!accepted.includes(type.mime)) throw unsupported(`The file content (${type.mime}) does not match its .${ext} extension`);
    mimeType = type.mime;
  });
  let source: Readable;
  try {
    source = file.createReadStream();
  } catch (err) {
    throw uploadError(err, opts.field);
  }
  source.on('error', (err) => limiter.destroy(uploadError(err, opts.field)));
  // A small file can fail its sniff before storage attaches its pipeline; the error stays on the
  // stream (`errored`) and the storage's pipeline rejects with it.
  limiter.on('error', () => undefined);
  const storageKey = newStorageKey();
  let size: number;
  try {
    size = await storage.write(storageKey, source.pipe(limiter));
  } finally {
    source.destroy();
  }
  if (size === 0 || !mimeType) {
    await storage.delete(storageKey);
    throw unsupported('The file is empty');
  }
  return { storageKey, mimeType, size };
}

/** An image's header as sharp reads it (no pixels decoded). */
export type ImageHeader = Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;

/** The header of a stored image, or null when sharp cannot read the format (HEIC with sharp's prebuilt binaries). */
export async function readImageHeader(storage: BlobStorage, key: string): Promise<ImageHeader | null> {
  try {
    return await storage
      .read(key)
      .pipe(sharp({ animated: false, limitInputPixels: false }))
      .metadata();
  } catch {
    return null;
  }
}

/**
 * Refuses an image of more than `maxPixels` pixels (width x height, UPLOAD_MAX_PIXELS) from its
 * header, before anything decodes it. @throws PAYLOAD_TOO_LARGE.
 */
export function checkPixels(meta: Pick<ImageHeader, 'width' | 'height'>, maxPixels: number): void {
  if ((meta.width ?? 0) * (meta.height ?? 0) > maxPixels) {
    throw payloadTooLarge(`The image is ${meta.width}x${meta.height} pixels; at most ${maxPixels} pixels are accepted (UPLOAD_MAX_PIXELS)`);
  }
}

/**
 * An error of reading the upload itself (the multipart transport: a file cut at the size limit,
 * a malformed or aborted request) as a domain error: PAYLOAD_TOO_LARGE for 413, else
 * BAD_USER_INPUT naming `field`.
 */
export function uploadError(err: unknown, field = 'attachments'): DomainError {
  if (err instanceof DomainError) return err;
  const status = (err as { status?: number; statusCode?: number })?.status ?? (err as { statusCode?: number })?.statusCode;
  if (status === 413) return payloadTooLarge((err as Error).message);
  return badInput(`The upload could not be read: ${(err as Error)?.message ?? 'unknown error'}`, field);
}
