// First: OpenTelemetry (when configured) patches modules as they load.
import { stopTracing } from './observability/tracing';
import 'reflect-metadata';
import { startApp } from './app';
import { loadConfigOrExit } from './config/config';

/** Entry point: config → database → services → HTTP + WebSocket → listen; SIGTERM/SIGINT drain and exit 0. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await startApp(config);
  app.logger.info({ url: app.url, ws: app.wsUrl, database: config.databaseUrl ? 'postgresql' : `pglite (${config.dataDir})` }, 'chat server listening');
  const shutdown = (signal: string) => {
    app.logger.info({ signal }, 'shutting down: draining connections');
    const force = setTimeout(() => {
      app.logger.error('drain timed out');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    app.stop().then(
      () => {
        app.logger.info('stopped');
        void stopTracing().finally(() => process.exit(0));
      },
      (err) => {
        app.logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  console.error('Failed to start:', err);
  process.exit(1);
});
