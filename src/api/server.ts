import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { Sealpost } from '../app/context.js';
import type { Role } from '../config/config.js';
import type { OcspService } from '../ocsp/ocsp-service.js';
import type { TsaService } from '../tsa/tsa-service.js';
import type { CrlPublisher } from '../ca/crl-publisher.js';
import { createMetrics, type Metrics } from './metrics.js';
import { errorHandler } from './errors.js';
import { caPublicRoutes, ocspRoutes, tsaRoutes } from './routes/pki.js';
import { certificateRoutes } from './routes/certificates.js';
import { auditRoutes } from './routes/audit.js';
import { pdfRoutes } from './routes/pdf.js';

export interface ServerParts {
  ctx: Sealpost;
  roles: Role[];
  ocsp?: OcspService;
  tsa?: TsaService;
  crl?: CrlPublisher;
  logger: Logger;
}

/** The Fastify app: public PKI endpoints, the REST API (API keys), /docs, /metrics, /healthz. */
export async function buildServer(p: ServerParts): Promise<{ app: FastifyInstance; metrics: Metrics }> {
  const metrics = createMetrics();
  const app = Fastify({
    loggerInstance: p.logger,
    // Per-request info logs would dominate the OCSP/TSA hot paths; metrics and error logs cover them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: p.ctx.config.limits.bodyBytes,
    // Reject absurd URLs and header floods before routing.
    routerOptions: { maxParamLength: 8192 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    // A pino child per request (with its redaction setup) costs more than an OCSP answer from the cache;
    // requests share the server's logger and the error handler names the request id itself.
    childLoggerFactory: (logger) => logger,
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: {
        code: 'not_found',
        message: `no route ${request.method} ${request.url.split('?')[0]}; the API is described at /docs`,
      },
    });
  });
  // Labelled children are cached so the hot paths do not hash label sets on every request.
  const timers = new Map<string, { observe(v: number): void }>();
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${route} ${reply.statusCode}`;
    let timer = timers.get(key);
    if (!timer) {
      timer = metrics.httpDuration.labels({
        method: request.method,
        route,
        status: String(reply.statusCode),
      });
      timers.set(key, timer);
    }
    timer.observe(reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Sealpost API',
        version: '0.1.0',
        description:
          "Certificates, revocation and audit for the bank's own CA. PKI protocol endpoints (/ocsp, /tsa, /crl, /ca) are public and not listed here.",
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'sp_<id>.<secret> from `sealpost apikey create`',
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', { schema: { hide: true } }, async () => ({
    status: 'ok',
    roles: p.roles,
    crlLeader: p.crl?.isLeader() ?? false,
  }));
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  if (p.roles.includes('ca')) await app.register(caPublicRoutes, { ca: p.ctx.ca });
  if (p.roles.includes('ocsp') && p.ocsp) await app.register(ocspRoutes, { ocsp: p.ocsp, metrics });
  if (p.roles.includes('tsa') && p.tsa) await app.register(tsaRoutes, { tsa: p.tsa, metrics });
  if (p.roles.includes('api')) {
    await app.register(certificateRoutes, {
      ca: p.ctx.ca,
      apiKeys: p.ctx.apiKeys,
      metrics,
      ...(p.ocsp ? { ocsp: p.ocsp } : {}),
      ...(p.crl ? { crl: p.crl } : {}),
    });
    await app.register(auditRoutes, { audit: p.ctx.audit, apiKeys: p.ctx.apiKeys });
    await app.register(pdfRoutes, { ctx: p.ctx });
  }
  // Fastify's instance type carries the pino Logger generic; callers only need the base interface.
  return { app: app as unknown as FastifyInstance, metrics };
}
