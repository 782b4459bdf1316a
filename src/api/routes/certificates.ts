import type { FastifyInstance } from 'fastify';
import type { CaService, IssuedCertificate, UserUsage } from '../../ca/ca-service.js';
import { REVOCATION_REASONS } from '../../ca/ca-service.js';
import type { RevocationReason } from '../../pkix/crl.js';
import type { ValidationModel } from '../../ca/profiles.js';
import type { KeyAlgorithm } from '../../crypto/key-handle.js';
import { KEY_ALGORITHMS } from '../../crypto/key-handle.js';
import { toPem } from '../../pkix/pem.js';
import { certificateView } from '../../ca/certificate-view.js';
import { buildPkcs12 } from '../../pkix/pkcs12.js';
import type { ApiKeyService } from '../api-keys.js';
import { actorOf, requireScope } from '../auth.js';
import type { Metrics } from '../metrics.js';
import { HttpError, errorSchema } from '../errors.js';
import type { OcspService } from '../../ocsp/ocsp-service.js';
import type { CrlPublisher } from '../../ca/crl-publisher.js';

const certificateRecordSchema = {
  type: 'object',
  properties: {
    serial: { type: 'string', description: 'hexadecimal serial number' },
    authority: { type: 'string' },
    profile: { type: 'string' },
    subject: { type: 'string' },
    email: { type: ['string', 'null'] },
    notBefore: { type: 'string', format: 'date-time' },
    notAfter: { type: 'string', format: 'date-time' },
    status: { type: 'string', enum: ['valid', 'revoked'] },
    revokedAt: { type: ['string', 'null'] },
    revocationReason: { type: ['string', 'null'] },
    pem: { type: 'string' },
  },
} as const;

interface IssueBody {
  email: string;
  name?: string;
  usage?: UserUsage;
  csr?: string;
  keyAlgorithm?: KeyAlgorithm;
  validityDays?: number;
  validation?: ValidationModel;
  pkcs12Password?: string;
  legacyPkcs12?: boolean;
}

/** REST API for issuance, lookup and revocation (API key with the named scope). */
export async function certificateRoutes(
  app: FastifyInstance,
  opts: { ca: CaService; apiKeys: ApiKeyService; metrics: Metrics; ocsp?: OcspService; crl?: CrlPublisher },
): Promise<void> {
  const { ca, apiKeys, metrics } = opts;
  const security = [{ apiKey: [] }];

  app.post<{ Body: IssueBody }>(
    '/v1/certificates',
    {
      preHandler: requireScope(apiKeys, 'ca:issue'),
      schema: {
        summary: 'Issue S/MIME certificates for a mailbox',
        description:
          "With `csr`, one certificate for the CSR's key (usage signing, encryption or multipurpose). Without, the server generates the keys " +
          '(signing key handed back and not kept; encryption key handed back and escrowed) and returns them as PKCS#12 protected by `pkcs12Password`.',
        tags: ['certificates'],
        security,
        body: {
          type: 'object',
          required: ['email'],
          additionalProperties: false,
          properties: {
            email: { type: 'string', maxLength: 320 },
            name: { type: 'string', maxLength: 200 },
            usage: {
              type: 'string',
              enum: ['signing', 'encryption', 'both', 'multipurpose'],
              default: 'both',
            },
            csr: { type: 'string', maxLength: 65536, description: 'PEM PKCS#10' },
            keyAlgorithm: { type: 'string', enum: [...KEY_ALGORITHMS] },
            validityDays: { type: 'integer', minimum: 1, maximum: 825 },
            validation: { type: 'string', enum: ['mailbox', 'sponsor'] },
            pkcs12Password: { type: 'string', minLength: 8, maxLength: 256 },
            legacyPkcs12: {
              type: 'boolean',
              description: 'PBE-SHA1-3DES instead of AES-256/PBES2 (for gpgsm and old clients)',
            },
          },
        },
        response: {
          201: {
            type: 'object',
            properties: {
              certificates: {
                type: 'array',
                items: {
                  ...certificateRecordSchema,
                  properties: {
                    ...certificateRecordSchema.properties,
                    pkcs12: { type: 'string', description: 'base64 PKCS#12 (server-generated keys only)' },
                  },
                },
              },
              chainPem: { type: 'string' },
            },
          },
          400: errorSchema,
          401: errorSchema,
          403: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      if (!b.csr && !b.pkcs12Password) {
        throw new HttpError(
          400,
          'password_required',
          'server-generated keys are returned as PKCS#12: give pkcs12Password (≥ 8 characters), or send a csr',
        );
      }
      const issued = await ca.issueUser({
        email: b.email,
        usage: b.usage ?? (b.csr ? 'signing' : 'both'),
        actor: actorOf(request),
        ...(b.name ? { name: b.name } : {}),
        ...(b.csr ? { csr: b.csr } : {}),
        ...(b.keyAlgorithm ? { keyAlgorithm: b.keyAlgorithm } : {}),
        ...(b.validityDays ? { validityDays: b.validityDays } : {}),
        ...(b.validation ? { validation: b.validation } : {}),
      });
      const chainPem = await ca.chainPem();
      const chainDer = (await ca.authority('issuing')).certificate.der;
      const certificates = issued.map((i) => {
        metrics.certificatesIssued.inc({ profile: i.profile });
        return {
          ...issuedView(i),
          ...(i.generatedKey && b.pkcs12Password
            ? { pkcs12: packPkcs12(i, chainDer, b.pkcs12Password, b.legacyPkcs12 ?? false) }
            : {}),
        };
      });
      return reply.status(201).send({ certificates, chainPem });
    },
  );

  app.get<{ Params: { serial: string } }>(
    '/v1/certificates/:serial',
    {
      preHandler: requireScope(apiKeys, 'ca:read'),
      schema: {
        summary: 'Look up a certificate by serial',
        tags: ['certificates'],
        security,
        params: { type: 'object', properties: { serial: { type: 'string', maxLength: 130 } } },
        response: { 200: certificateRecordSchema, 404: errorSchema },
      },
    },
    async (request) => {
      const record = await ca.get(request.params.serial);
      if (!record)
        throw new HttpError(404, 'not_found', `no certificate with serial ${request.params.serial}`);
      return certificateView(record, { pem: true });
    },
  );

  app.get<{ Querystring: { email?: string; status?: 'valid' | 'revoked'; limit?: number } }>(
    '/v1/certificates',
    {
      preHandler: requireScope(apiKeys, 'ca:read'),
      schema: {
        summary: 'List certificates (newest first), optionally for one mailbox',
        tags: ['certificates'],
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            email: { type: 'string', maxLength: 320 },
            status: { type: 'string', enum: ['valid', 'revoked'] },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { certificates: { type: 'array', items: certificateRecordSchema } },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const records = await ca.list({
        ...(q.email ? { email: q.email } : {}),
        ...(q.status ? { status: q.status } : {}),
        limit: q.limit ?? 100,
      });
      return { certificates: records.map((r) => certificateView(r, { pem: true })) };
    },
  );

  app.post<{ Params: { serial: string }; Body: { reason?: RevocationReason } }>(
    '/v1/certificates/:serial/revoke',
    {
      preHandler: requireScope(apiKeys, 'ca:revoke'),
      schema: {
        summary: 'Revoke a certificate',
        tags: ['certificates'],
        security,
        params: { type: 'object', properties: { serial: { type: 'string', maxLength: 130 } } },
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { reason: { type: 'string', enum: [...REVOCATION_REASONS], default: 'unspecified' } },
        },
        response: { 200: certificateRecordSchema, 404: errorSchema, 409: errorSchema },
      },
    },
    async (request) => {
      const record = await ca.revoke({
        serial: request.params.serial,
        reason: request.body?.reason ?? 'unspecified',
        actor: actorOf(request),
      });
      metrics.revocations.inc({ reason: record.revocationReason ?? 'unspecified' });
      // This node's OCSP cache and CRL follow at once; other nodes follow on their next poll.
      await opts.ocsp?.pollRevocations();
      void opts.crl?.kick();
      return certificateView(record, { pem: true });
    },
  );
}

function packPkcs12(i: IssuedCertificate, issuingDer: Buffer, password: string, legacy: boolean): string {
  if (!i.generatedKey) throw new Error('no generated key to package');
  return buildPkcs12({
    privateKey: i.generatedKey.exportPkcs8(),
    certificate: i.certificate.der,
    chain: [issuingDer],
    password,
    legacy,
    friendlyName: `${i.certificate.emails[0] ?? i.certificate.subjectString} (${i.profile})`,
  }).toString('base64');
}

function issuedView(i: IssuedCertificate) {
  const c = i.certificate;
  return {
    serial: i.serial,
    authority: 'issuing',
    profile: i.profile,
    subject: c.subjectString,
    email: c.emails[0] ?? null,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    status: 'valid' as const,
    revokedAt: null,
    revocationReason: null,
    pem: toPem(c.der, 'CERTIFICATE'),
  };
}
