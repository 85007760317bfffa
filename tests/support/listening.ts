/**
 * The port a compiled server (`dist/src/main.js` started with PORT=0) listens on, read from its
 * "chat server listening" log line (pino JSON with the `url` it bound, src/main.ts); null until
 * that line is in `output`. With PORT=0 the kernel picks a free port at bind time: a port chosen
 * by the test beforehand can be taken by another test's socket before the child binds it.
 */
export function listeningPort(output: string): number | null {
  for (const line of output.split('\n')) {
    if (!line.includes('chat server listening')) continue;
    try {
      const port = Number(new URL((JSON.parse(line) as { url: string }).url).port);
      if (port > 0) return port;
    } catch {
      /* not this line's JSON */
    }
  }
  return null;
}
