import type { FastifyInstance, FastifyReply } from 'fastify';
import type { CaService } from '../../ca/ca-service.js';
import { PKI_PATHS } from '../../ca/urls.js';
import type { OcspService, OcspAnswer } from '../../ocsp/ocsp-service.js';
import type { TsaService } from '../../tsa/tsa-service.js';
import type { Metrics } from '../metrics.js';
import { toPem } from '../../pkix/pem.js';
import { HttpError } from '../errors.js';

const OCSP_MAX_BYTES = 16 * 1024;
const TSA_MAX_BYTES = 16 * 1024;

/** Public PKI endpoints (no API key): CA certificates, CRLs, OCSP (RFC 6960/5019) and TSA (RFC 3161). */
export async function caPublicRoutes(app: FastifyInstance, opts: { ca: CaService }): Promise<void> {
  const { ca } = opts;
  // PKI_PATHS.caCertificate(id) is /ca/<id>.crt; the .pem twin serves the same certificate as text.
  app.get('/ca/:file', { schema: { hide: true } }, async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const match = /^([a-z0-9-]+)\.(crt|pem)$/.exec(file);
    if (!match)
      throw new HttpError(404, 'not_found', 'no such CA certificate; try /ca/issuing.crt or /ca/root.crt');
    const [, id = '', ext] = match;
    if (!(await ca.authorityIds()).includes(id)) throw new HttpError(404, 'not_found', `no CA named "${id}"`);
    const cert = (await ca.authority(id)).certificate.der;
    if (ext === 'pem') return reply.type('application/x-pem-file').send(toPem(cert, 'CERTIFICATE'));
    return reply.type('application/pkix-cert').header('cache-control', 'public, max-age=86400').send(cert);
  });
  app.get('/ca/chain.pem', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('application/x-pem-file').send(await ca.chainPem()),
  );
  app.get('/crl/:file', { schema: { hide: true } }, async (request, reply) => {
    const file = (request.params as { file: string }).file;
    const id = /^([a-z0-9-]+)\.crl$/.exec(file)?.[1];
    if (!id) throw new HttpError(404, 'not_found', 'no such CRL; try /crl/issuing.crl');
    const crl = await ca.latestCrl(id);
    if (!crl) throw new HttpError(404, 'not_found', `no CRL has been issued for "${id}" yet`);
    const maxAge = Math.max(0, Math.floor((crl.nextUpdate.getTime() - Date.now()) / 1000));
    return reply
      .type('application/pkix-crl')
      .header('last-modified', crl.thisUpdate.toUTCString())
      .header('expires', crl.nextUpdate.toUTCString())
      .header('cache-control', `public, max-age=${Math.min(maxAge, 3600)}, no-transform`)
      .send(crl.der);
  });
}

export async function ocspRoutes(
  app: FastifyInstance,
  opts: { ocsp: OcspService; metrics: Metrics },
): Promise<void> {
  const { ocsp, metrics } = opts;
  app.addContentTypeParser(
    'application/ocsp-request',
    { parseAs: 'buffer', bodyLimit: OCSP_MAX_BYTES },
    (_req, body, done) => done(null, body),
  );
  const send = (reply: FastifyReply, answer: OcspAnswer): FastifyReply => {
    metrics.ocspResponses.inc({ outcome: answer.cache ? 'signed' : 'other' });
    reply.type('application/ocsp-response');
    if (answer.cache) {
      // RFC 5019 §6.2 caching headers, so proxies and CDNs can serve pre-signed answers.
      const dates = httpDates(answer.cache);
      const maxAge = Math.max(0, Math.floor((dates.nextUpdateMs - Date.now()) / 1000));
      reply
        .header('last-modified', dates.lastModified)
        .header('expires', dates.expires)
        .header('etag', answer.cache.etag)
        .header('cache-control', `max-age=${maxAge}, public, no-transform, must-revalidate`);
    } else {
      reply.header('cache-control', 'no-cache');
    }
    return reply.send(answer.der);
  };
  app.post(PKI_PATHS.ocsp, { schema: { hide: true } }, async (request, reply) => {
    if (!Buffer.isBuffer(request.body))
      throw new HttpError(
        415,
        'unsupported_media_type',
        'send the DER OCSPRequest as application/ocsp-request',
      );
    return send(reply, await ocsp.respond(request.body));
  });
  app.get(`${PKI_PATHS.ocsp}/*`, { schema: { hide: true } }, async (request, reply) => {
    const encoded = (request.params as { '*': string })['*'];
    let der: Buffer;
    try {
      der = Buffer.from(decodeURIComponent(encoded), 'base64');
    } catch {
      der = Buffer.alloc(0);
    }
    if (der.length > OCSP_MAX_BYTES)
      throw new HttpError(414, 'uri_too_long', 'OCSP request too large for GET; use POST');
    return send(reply, await ocsp.respond(der));
  });
}

interface HttpDates {
  lastModified: string;
  expires: string;
  nextUpdateMs: number;
}

/** A pre-signed answer is served many times: format its HTTP dates once per cached answer, not per request. */
const httpDatesOf = new WeakMap<object, HttpDates>();

function httpDates(cache: NonNullable<OcspAnswer['cache']>): HttpDates {
  let dates = httpDatesOf.get(cache);
  if (!dates) {
    dates = {
      lastModified: cache.thisUpdate.toUTCString(),
      expires: cache.nextUpdate.toUTCString(),
      nextUpdateMs: cache.nextUpdate.getTime(),
    };
    httpDatesOf.set(cache, dates);
  }
  return dates;
}

export async function tsaRoutes(
  app: FastifyInstance,
  opts: { tsa: TsaService; metrics: Metrics },
): Promise<void> {
  const { tsa, metrics } = opts;
  app.addContentTypeParser(
    'application/timestamp-query',
    { parseAs: 'buffer', bodyLimit: TSA_MAX_BYTES },
    (_req, body, done) => done(null, body),
  );
  app.post(PKI_PATHS.tsa, { schema: { hide: true } }, async (request, reply) => {
    if (!Buffer.isBuffer(request.body))
      throw new HttpError(
        415,
        'unsupported_media_type',
        'send the DER TimeStampReq as application/timestamp-query',
      );
    const answer = await tsa.respond(request.body);
    metrics.timestamps.inc({ outcome: answer.granted ? 'granted' : 'rejected' });
    return reply.type('application/timestamp-reply').header('cache-control', 'no-store').send(answer.der);
  });
}
