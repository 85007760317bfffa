import { badInput } from '../shared/errors';
import { hasControlChars } from '../shared/text';

/**
 * Files given by reference instead of bytes (seed 003 "2.2 发送消息": `file_url`, `file_name`,
 * `file_size`; its note 7: "文件消息需要先上传文件获取URL，然后发送消息", upload first, then send the
 * URL). Pure checks; AttachmentService decides whether a URL is this server's own media.
 */

/** Longest `file_url` accepted, in characters, as given and once serialised. */
export const MAX_FILE_URL = 2048;

/** Largest `file_size` a sender may declare, in bytes: what the column holds (the server never holds these bytes, so the upload limit does not apply). */
export const MAX_DECLARED_SIZE = 2_147_483_647;

/** Longest file name, in characters (the uploads' rule, attachment.service checkFileName). */
const MAX_NAME = 255;

/** A file message's reference as a sender gives it (domain field names; REST renames them). */
export interface FileReferenceInput {
  /** `file_url`: an absolute http(s) URL, or this server's `/media/<id>` path. */
  url: unknown;
  /** `file_name`; absent or blank: the URL's last path segment (or, for own media, the file's name). */
  fileName?: unknown;
  /** `file_size` in bytes; absent: unknown. Ignored for this server's own media (its size is known). */
  size?: unknown;
  /** `message_type`: IMAGE or FILE, as the sender says (seed 003 message types). */
  kind: 'IMAGE' | 'FILE';
}

/** A URL checked by {@link parseFileUrl}: absolute http(s), or a path of this server. */
export type ParsedFileUrl = { absolute: URL } | { path: string; search: string };

/**
 * Checks `file_url`: a string of 1..2048 characters without spaces or control characters; an
 * absolute `http:`/`https:` URL without user name or password, or a path starting with
 * `/media/` in any spelling {@link mediaPathKey} reads as one (this server's media, as GraphQL's
 * `Attachment.url` gives it without PUBLIC_URL).
 * @throws BAD_USER_INPUT naming `fileUrl`: missing, too long, `javascript:`/`data:`/any other
 *   scheme (named in the message), relative or unparsable URLs, credentials.
 */
export function parseFileUrl(value: unknown): ParsedFileUrl {
  if (value == null || (typeof value === 'string' && !value.trim())) throw badInput('fileUrl is required for image and file messages', 'fileUrl');
  if (typeof value !== 'string') throw badInput('fileUrl must be a string', 'fileUrl');
  const s = value.trim();
  if ([...s].length > MAX_FILE_URL) throw badInput(`fileUrl must be at most ${MAX_FILE_URL} characters`, 'fileUrl');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(s)?.[1]?.toLowerCase();
  if (scheme && scheme !== 'http' && scheme !== 'https') {
    throw badInput(`fileUrl must be an http:// or https:// URL; ${scheme.slice(0, 32)}: URLs are refused`, 'fileUrl');
  }
  if (hasControlChars(s) || /\s/.test(s)) throw badInput('fileUrl must not contain spaces or control characters', 'fileUrl');
  if (!scheme) {
    if (/^\/media\//.test(mediaPathKey(s.replace(/[?#].*$/s, '')))) {
      const q = s.search(/[?#]/);
      return { path: q < 0 ? s : s.slice(0, q), search: q < 0 ? '' : s.slice(q).replace(/#.*$/, '') };
    }
    throw badInput('fileUrl must be an absolute http:// or https:// URL', 'fileUrl');
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw badInput('fileUrl is not a valid URL', 'fileUrl');
  }
  if (!u.hostname) throw badInput('fileUrl must name a host', 'fileUrl');
  if (u.username || u.password) throw badInput('fileUrl must not carry a user name or password', 'fileUrl');
  if (u.href.length > MAX_FILE_URL) throw badInput(`fileUrl must be at most ${MAX_FILE_URL} characters`, 'fileUrl');
  return { absolute: u };
}

/**
 * A URL path as this server's router could match it against `/media` routes, for recognising
 * this server's own media (issue 27 §4): dot segments resolved, runs of slashes as one (proxies
 * merge them), percent-escapes decoded once (the router decodes a route's parameters:
 * `/media/%37%38` serves file 78), letters in lower case (Express matched `/MEDIA/78` as
 * `/media/78` until the media routes became case-sensitive). A superset of the spellings the
 * router serves, so no spelling that opens a file passes for another site's link.
 */
export function mediaPathKey(path: string): string {
  let p = path.replace(/\/{2,}/g, '/');
  try {
    p = new URL(p, 'http://h').pathname;
  } catch {
    /* keep it */
  }
  try {
    p = decodeURIComponent(p);
  } catch {
    p = p.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return p.replace(/\/{2,}/g, '/').toLowerCase();
}

/**
 * Checks `file_size`: absent (null) or a whole number of bytes from 0 to {@link MAX_DECLARED_SIZE}.
 * @throws BAD_USER_INPUT naming `fileSize`.
 */
export function checkDeclaredSize(value: unknown): number | null {
  if (value == null) return null;
  const n = typeof value === 'string' && /^\s*\d{1,10}\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_DECLARED_SIZE) {
    throw badInput(`fileSize must be a whole number of bytes from 0 to ${MAX_DECLARED_SIZE}`, 'fileSize');
  }
  return n;
}

/**
 * A file name made from a URL's last path segment (percent-decoded when it decodes), with what
 * {@link checkFileName} refuses removed instead (path separators, control characters), at most
 * 255 characters; "file" when nothing is left.
 */
export function nameFromUrl(pathname: string): string {
  const last = pathname.split('/').filter(Boolean).pop() ?? '';
  let decoded = last;
  try {
    decoded = decodeURIComponent(last);
  } catch {
    /* keep it encoded */
  }
  const cleaned = [
    ...decoded
      .normalize('NFC')
      .replace(/[/\\]/g, '_')
      .replace(/[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/gu, '')
      .trim(),
  ]
    .slice(0, MAX_NAME)
    .join('')
    .trim();
  return cleaned && cleaned !== '.' && cleaned !== '..' ? cleaned : 'file';
}

/** MIME types by file extension: the guess an external link gets (never fetched, so never sniffed). */
const BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  avif: 'image/avif',
  bmp: 'image/bmp',
  svg: 'image/svg+xml',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  pdf: 'application/pdf',
  txt: 'text/plain',
  csv: 'text/csv',
  json: 'application/json',
  zip: 'application/zip',
  gz: 'application/gzip',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
};

/** The MIME type a file name's extension suggests; application/octet-stream when unknown. */
export function mimeFromName(fileName: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase() ?? '';
  return BY_EXTENSION[ext] ?? 'application/octet-stream';
}
