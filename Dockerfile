# The chat server. Build: docker build -t chat-server .   (docker-compose.yml builds it too)

# CI replays this file without a Docker engine (scripts/replay-dockerfile.js, in .ci/run): each
# stage's COPY and RUN steps in an empty folder, then the CMD must answer /healthz.

# --- build: install everything, compile TypeScript to dist/ ---
# Node 22 LTS, the supported line (Node 20 reached its end of life on 2026-04-30; it still runs).
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` is the build, and the sources it compiles are not copied yet (a plain
# `npm ci` failed here with TS5058, issue 30). No package needs its install script: allowScripts in
# package.json refuses them all, and sharp and @node-rs/argon2 ship prebuilt binaries as
# platform packages (Node-API: one binary for every Node version).
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build

# --- runtime: production dependencies and the compiled code only ---
FROM node:22-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: `prepare` would compile, and the compiled code comes from the build stage.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY scripts ./scripts
COPY --from=build /app/dist ./dist
# DATA_DIR is only used when DATABASE_URL is unset (embedded PGlite).
RUN mkdir -p /app/data /app/uploads && chown node:node /app/data /app/uploads
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Operator commands need no compiler here (scripts/run-built.js runs dist/ as it is when there is no src/):
#   docker compose exec app npm run migrate
#   docker compose exec app npm run seed
#   docker compose exec app npm run create-user -- --username admin --password "<password>" --staff
CMD ["node", "dist/src/main.js"]
