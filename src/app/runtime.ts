import type { FastifyInstance } from 'fastify';
import type { Sealpost } from './context.js';
import type { Role } from '../config/config.js';
import { KeyUseRecorder } from '../audit/key-use-recorder.js';
import { OcspService } from '../ocsp/ocsp-service.js';
import { TsaService } from '../tsa/tsa-service.js';
import { CrlPublisher } from '../ca/crl-publisher.js';
import { buildServer } from '../api/server.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  crl?: CrlPublisher;
  close(): Promise<void>;
}

/** Start the services for the given roles and serve them over HTTP. */
export async function startServer(
  ctx: Sealpost,
  p: { roles: Role[]; host: string; port: number; pollMs?: number },
): Promise<RunningServer> {
  const log = ctx.log;
  const pollMs = p.pollMs ?? 1000;
  const keyUse = new KeyUseRecorder(ctx.audit, 'system:server', 10_000, (err) =>
    log.error({ err }, 'could not record key use'),
  );
  keyUse.start();
  let ocsp: OcspService | undefined;
  let tsa: TsaService | undefined;
  let crl: CrlPublisher | undefined;
  if (p.roles.includes('ocsp')) {
    ocsp = new OcspService(ctx.ca, keyUse, { validityMinutes: ctx.config.ocsp.validityMinutes, pollMs }, log);
    await ocsp.start();
  }
  if (p.roles.includes('tsa')) {
    tsa = new TsaService(
      ctx.ca,
      ctx.store,
      keyUse,
      { policy: ctx.config.tsa.policy, accuracyMs: ctx.config.tsa.accuracyMs },
      log,
    );
    await tsa.start();
  }
  if (p.roles.includes('ca')) {
    crl = new CrlPublisher(
      ctx.ca,
      ctx.store,
      { validityHours: ctx.config.crl.validityHours, refreshHours: ctx.config.crl.refreshHours, pollMs },
      log,
    );
    await crl.start();
  }
  const { app } = await buildServer({
    ctx,
    roles: p.roles,
    logger: log,
    ...(ocsp ? { ocsp } : {}),
    ...(tsa ? { tsa } : {}),
    ...(crl ? { crl } : {}),
  });
  const address = await app.listen({ host: p.host, port: p.port });
  ctx.urls.bindListeningAddress(address);
  let closed = false;
  return {
    app,
    url: address,
    ...(crl ? { crl } : {}),
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      ocsp?.stop();
      await crl?.stop();
      await keyUse.stop();
    },
  };
}
