/**
 * Vite settings of the web client (examples/web). `npm run demo` builds it into dist/web/, which
 * the server serves at /demo outside production (src/demo/route.ts). `npx vite --config
 * examples/web/vite.config.ts` serves it with live reload on http://localhost:5173/demo/,
 * passing /graphql (HTTP and WebSocket) and /media on to a server at CHAT_SERVER
 * (default http://localhost:4000). JSX is compiled by Vite itself (automatic runtime), no plugin.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const server = process.env.CHAT_SERVER ?? 'http://localhost:4000';

export default defineConfig({
  root: here,
  base: '/demo/',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Everything bundled: the page loads nothing from another origin.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      '/graphql': { target: server, ws: true },
      '/media': { target: server },
    },
  },
});
