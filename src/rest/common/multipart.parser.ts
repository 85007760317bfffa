import busboy from 'busboy';
import type { Request, Response } from 'express';
import { WriteStream } from 'graphql-upload-ts';
import type { Readable } from 'node:stream';
import type { UploadedFile, UploadLimits } from '../../domain/attachment/attachment.service';
import { badInput } from '../../domain/shared/errors';
import { RestError } from './rest-error';

/** Limits of the text parts of a multipart body (file parts: the upload limits). */
const TEXT_LIMITS = { fields: 200, fieldSize: 1024 * 1024, parts: 200, fieldNameSize: 200 };

/** Which file fields a route takes: one file, or a list (repeated keys: seed 001 `medias`). */
export type FileFields = Record<string, 'one' | 'many'>;

/**
 * One file of a REST multipart body, buffered to a temporary file while the body streams in
 * (graphql-upload-ts's capacitor, as GraphQL uploads are), so fields after it are read too. The
 * domain (AttachmentService) reads it once the request is parsed: the size limit, the sniffed
 * type and the file name are checked there, exactly as for GraphQL uploads.
 */
export class RestUpload implements UploadedFile {
  private error: Error | null = null;

  constructor(
    readonly fieldName: string,
    readonly filename: string,
    private readonly capacitor: WriteStream,
  ) {}

  /** Marks the file as cut at the size limit: reading it then fails with status 413 (PAYLOAD_TOO_LARGE). */
  truncated(maxBytes: number): void {
    this.error = Object.assign(new Error(`${this.fieldName}: file exceeds the ${maxBytes} byte limit`), { status: 413 });
    this.capacitor.destroy(this.error);
  }

  /** The bytes, from the start. @throws an error with status 413 when the file was cut at the limit. */
  createReadStream(): Readable {
    if (this.error) throw this.error;
    return this.capacitor.createReadStream();
  }

  /** Deletes the temporary file once no reader uses it. */
  release(): void {
    this.capacitor.release();
  }
}

/** Adds a value to a body object; a repeated key (`members: 1`, `members: 2`) becomes a list. */
function put(body: Record<string, unknown>, key: string, value: unknown): void {
  if (!(key in body)) body[key] = value;
  else if (Array.isArray(body[key])) (body[key] as unknown[]).push(value);
  else body[key] = [body[key], value];
}

/**
 * Reads a `multipart/form-data` body: text fields (repeated keys are lists) and, for the fields
 * `files` names, files as {@link RestUpload}s. The upload limits apply while streaming: a file
 * is cut one byte past `limits.maxBytes` (it then answers 413 when the domain reads it) and at
 * most `limits.maxFiles + 1` files are kept (the domain refuses more than `maxFiles` with 413).
 * A file in a field the route does not take is a 400 naming that field. Temporary files are
 * deleted when the response ends.
 * @throws BAD_USER_INPUT (malformed body, unexpected file), RestError 413 (too many parts, a field too large).
 */
export function parseMultipart(req: Request, res: Response, files: FileFields, limits: UploadLimits): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { ...TEXT_LIMITS, fileSize: limits.maxBytes + 1, files: limits.maxFiles + 1 },
      });
    } catch (err) {
      reject(badInput(`Malformed multipart body: ${(err as Error).message}`));
      return;
    }
    const body: Record<string, unknown> = {};
    const uploads: RestUpload[] = [];
    res.once('close', () => {
      for (const u of uploads) u.release();
    });
    let failed: Error | null = null;
    let settled = false;
    const fail = (err: Error) => {
      failed ??= err;
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      if (failed) reject(failed);
      else resolve(body);
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new RestError(413, `${name}: field too large`));
      else put(body, name, value);
    });
    parser.on('file', (name, stream, info) => {
      if (!files[name]) {
        stream.resume();
        fail(badInput(`${name}: file uploads are not accepted here${Object.keys(files).length ? ` (only ${Object.keys(files).join(', ')})` : ''}`, name));
        return;
      }
      const capacitor = new WriteStream();
      const upload = new RestUpload(name, info.filename ?? '', capacitor);
      uploads.push(upload);
      capacitor.on('error', () => {
        stream.unpipe();
        stream.resume();
      });
      stream.on('limit', () => {
        stream.unpipe();
        stream.resume();
        upload.truncated(limits.maxBytes);
      });
      stream.pipe(capacitor);
      put(body, name, upload);
    });
    parser.on('fieldsLimit', () => fail(new RestError(413, 'Too many fields')));
    parser.on('partsLimit', () => fail(new RestError(413, 'Too many parts')));
    parser.on('error', (err: Error) => {
      fail(badInput(`Malformed multipart body: ${err.message}`));
      req.unpipe(parser);
      setImmediate(() => req.resume());
      finish();
    });
    parser.on('close', finish);
    req.pipe(parser);
  });
}
