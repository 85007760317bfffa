/**
 * OpenTelemetry traces (issue 15), only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: spans of HTTP
 * requests, Express routes, GraphQL operations (parse, validate, execute; resolvers not traced:
 * a page of 50 messages would be hundreds of spans), PostgreSQL statements and Redis commands,
 * exported over OTLP/HTTP (protobuf) to `<endpoint>/v1/traces`. The standard OTEL_* variables
 * apply (OTEL_SERVICE_NAME, default "chat-server"; OTEL_TRACES_SAMPLER; OTEL_EXPORTER_OTLP_HEADERS).
 * Imported first by main.ts: the instrumentations patch modules as they are loaded, so this must
 * run before express, pg or ioredis are required. Without the variable it loads nothing.
 */
import type { NodeSDK } from '@opentelemetry/sdk-node';

let sdk: NodeSDK | undefined;

if (process.env.OTEL_EXPORTER_OTLP_ENDPOINT) {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK: Sdk } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express') as typeof import('@opentelemetry/instrumentation-express');
  const { GraphQLInstrumentation } = require('@opentelemetry/instrumentation-graphql') as typeof import('@opentelemetry/instrumentation-graphql');
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } = require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  /* eslint-enable @typescript-eslint/no-require-imports */
  process.env.OTEL_SERVICE_NAME ??= 'chat-server';
  sdk = new Sdk({
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [
      // No spans for health checks and scrapes (they would drown the traces).
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => ['/healthz', '/readyz', '/metrics'].includes((req.url ?? '').split('?')[0]) }),
      new ExpressInstrumentation(),
      new GraphQLInstrumentation({ ignoreTrivialResolveSpans: true, depth: 0, allowValues: false }),
      new PgInstrumentation({ enhancedDatabaseReporting: false }),
      new IORedisInstrumentation(),
    ],
  });
  sdk.start();
}

/**
 * Flushes and stops the tracer (called at shutdown), waiting at most `maxMs` (ms) for an
 * unreachable collector; a no-op without OTEL_EXPORTER_OTLP_ENDPOINT.
 */
export async function stopTracing(maxMs = 1000): Promise<void> {
  if (!sdk) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    sdk.shutdown().catch(() => undefined),
    new Promise<void>((r) => {
      timer = setTimeout(r, maxMs);
    }),
  ]);
  clearTimeout(timer);
}
