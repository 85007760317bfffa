import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStorage } from '../domain/attachment/blob-storage';

/**
 * Attachment bytes on the local disk under `root` (default `<DATA_DIR>/uploads`), sharded by the
 * key's first two characters. A write goes to `<key>.part` and is renamed into place only when
 * complete, so a failed or aborted upload leaves no file behind.
 */
export class LocalDiskStorage implements BlobStorage {
  constructor(readonly root: string) {}

  private pathOf(key: string): string {
    if (!/^[A-Za-z0-9_-]{8,128}$/.test(key)) throw new Error(`invalid storage key ${JSON.stringify(key)}`);
    return join(this.root, key.slice(0, 2), key);
  }

  async write(key: string, source: Readable): Promise<number> {
    const path = this.pathOf(key);
    const part = `${path}.part`;
    await mkdir(dirname(path), { recursive: true });
    const out = createWriteStream(part, { flags: 'wx' });
    try {
      await pipeline(source, out);
      await rename(part, path);
    } catch (err) {
      source.destroy();
      // A stream destroyed before its file opened still opens (creates) and closes it afterwards:
      // wait for that, or the rm below would run first and leave an empty .part behind.
      out.destroy();
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await rm(part, { force: true });
      throw err;
    }
    return out.bytesWritten;
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(key), range);
  }

  async size(key: string): Promise<number> {
    return (await stat(this.pathOf(key))).size;
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
