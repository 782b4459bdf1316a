import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { Sealpost } from '../../app/context.js';
import { ISSUING_ID, ROOT_ID } from '../../ca/ca-service.js';
import {
  PADES_LEVELS,
  finishPdfSignature,
  preparePdfSignature,
  signPdf,
  type PadesLevel,
  type PdfSigner,
  type PreparedSignature,
  type SignPdfOptions,
} from '../../pdf/sign/index.js';
import { validatePdf, formatReport } from '../../pdf/validate/index.js';
import { encryptPdfFile } from '../../pdf/encrypt/index.js';
import { protectPdf } from '../../pdf/encrypt/protect.js';
import { ALL_PDF_PERMISSIONS, type PdfPermission } from '../../pdf/crypt/pubsec.js';
import { pemOrDer } from '../../pkix/pem.js';
import { requireScope, actorOf } from '../auth.js';
import { HttpError, errorSchema } from '../errors.js';

/** A PDF upload is written to disk as it arrives; documents are never held whole in memory. */
const MAX_PDF_BYTES = 512 * 1024 * 1024;
const MAX_BATCH_DOCUMENTS = 50;
/** How long a prepared two-phase signature waits for its signature. */
const PENDING_TTL_MS = 15 * 60_000;

interface SignParams {
  level?: PadesLevel;
  field?: string;
  reason?: string;
  location?: string;
  certify?: 1 | 2 | 3;
  visible?: string;
  hash?: 'sha256' | 'sha384' | 'sha512';
}

const signParamsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    level: { type: 'string', enum: [...PADES_LEVELS], default: 'B-T' },
    field: { type: 'string', maxLength: 128 },
    reason: { type: 'string', maxLength: 256 },
    location: { type: 'string', maxLength: 256 },
    certify: { type: 'integer', enum: [1, 2, 3] },
    visible: {
      type: 'string',
      pattern: '^\\d+,\\d+(\\.\\d+)?,\\d+(\\.\\d+)?,\\d+(\\.\\d+)?,\\d+(\\.\\d+)?$',
      description: 'page,x,y,width,height (points)',
    },
    hash: { type: 'string', enum: ['sha256', 'sha384', 'sha512'] },
  },
} as const;

/**
 * eSigning API: the organisation seal signs PDFs (PAdES B-B … B-LTA), verifies them, signs batches, and
 * runs two-phase signing for users whose key lives on their own token (CSC-style hash signing).
 */
export async function pdfRoutes(app: FastifyInstance, opts: { ctx: Sealpost }): Promise<void> {
  const { ctx } = opts;
  const work = join(ctx.config.dataDir, 'work');
  const pending = join(ctx.config.dataDir, 'pending');
  await mkdir(work, { recursive: true, mode: 0o700 });
  await mkdir(pending, { recursive: true, mode: 0o700 });
  // Prepared signatures nobody finished are removed once expired.
  await sweepExpired(pending);
  const sweeper = setInterval(() => void sweepExpired(pending), 60_000);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));
  const security = [{ apiKey: [] }];

  // The body stays a stream: each handler writes it to a temporary file with a size cap.
  app.addContentTypeParser('application/pdf', { bodyLimit: MAX_PDF_BYTES }, (_req, payload, done) =>
    done(null, payload),
  );

  app.post<{ Querystring: SignParams }>(
    '/v1/pdf/sign',
    {
      preHandler: requireScope(ctx.apiKeys, 'pdf:sign'),
      bodyLimit: MAX_PDF_BYTES,
      schema: {
        summary: 'Sign a PDF with the organisation seal',
        description:
          'Send the PDF as the request body (Content-Type: application/pdf); the signed PDF comes back. B-T and above use the Sealpost TSA; B-LT and B-LTA add validation data (DSS) up to the Sealpost root.',
        tags: ['pdf'],
        security,
        querystring: signParamsSchema,
        response: { 400: errorSchema, 401: errorSchema, 403: errorSchema, 413: errorSchema },
      },
    },
    async (request, reply) => {
      const dir = await mkdtemp(join(work, 'sign-'));
      try {
        const input = await receivePdf(request, join(dir, 'in.pdf'));
        const output = join(dir, 'out.pdf');
        const result = await signWithSeal(ctx, {
          input,
          output,
          params: request.query,
          actor: actorOf(request),
        });
        reply.header('x-sealpost-signature-field', result.field).header('x-sealpost-level', result.level);
        return sendFileAndClean(reply, output, dir);
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
  );

  const encryptBodyProperties = {
    pdf: { type: 'string', description: 'base64 PDF' },
    to: {
      type: 'array',
      maxItems: 20,
      items: { type: 'string', maxLength: 320 },
      description: 'recipient mailboxes: their newest valid encryption certificate from this CA',
    },
    certificates: {
      type: 'array',
      maxItems: 20,
      items: { type: 'string', maxLength: 16384 },
      description: 'recipient certificates, PEM',
    },
    aes: { type: 'integer', enum: [128, 256], default: 256 },
    permissions: {
      type: 'array',
      items: { type: 'string', enum: [...ALL_PDF_PERMISSIONS] },
      description: 'what the recipients may do (default: all)',
    },
    encryptMetadata: { type: 'boolean', default: true },
  } as const;
  type EncryptBody = {
    pdf: string;
    to?: string[];
    certificates?: string[];
    aes?: 128 | 256;
    permissions?: PdfPermission[];
    encryptMetadata?: boolean;
  };

  app.post<{ Body: EncryptBody }>(
    '/v1/pdf/encrypt',
    {
      preHandler: requireScope(ctx.apiKeys, 'pdf:sign'),
      bodyLimit: 100 * 1024 * 1024,
      schema: {
        summary: 'Encrypt a PDF for its recipients (Adobe.PubSec, readable in Adobe Reader)',
        tags: ['pdf'],
        security,
        body: {
          type: 'object',
          required: ['pdf'],
          additionalProperties: false,
          properties: encryptBodyProperties,
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const recipients = (await recipientCertificates(ctx, b.to ?? [], b.certificates ?? [])).map(
        (certificate) => ({ certificate }),
      );
      const dir = await mkdtemp(join(work, 'encrypt-'));
      try {
        const input = join(dir, 'in.pdf');
        await writeFile(input, Buffer.from(b.pdf, 'base64'));
        const output = join(dir, 'out.pdf');
        await encryptPdfFile(input, output, {
          recipients,
          ...(b.aes ? { aes: b.aes } : {}),
          ...(b.permissions ? { permissions: b.permissions } : {}),
          ...(b.encryptMetadata === false ? { encryptMetadata: false } : {}),
        });
        await ctx.audit.append({
          actor: actorOf(request),
          action: 'pdf.encrypt',
          details: { recipients: recipients.length, to: b.to ?? [] },
        });
        return sendFileAndClean(reply, output, dir);
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
  );

  app.post<{ Body: EncryptBody & SignParams }>(
    '/v1/pdf/protect',
    {
      preHandler: requireScope(ctx.apiKeys, 'pdf:sign'),
      bodyLimit: 100 * 1024 * 1024,
      schema: {
        summary: 'Encrypt for the recipients, then sign with the organisation seal',
        description:
          "The order that keeps both valid: the signature covers the encrypted file and its /Contents stays unencrypted (Adobe's model).",
        tags: ['pdf'],
        security,
        body: {
          type: 'object',
          required: ['pdf'],
          additionalProperties: false,
          properties: { ...encryptBodyProperties, ...signParamsSchema.properties },
        },
      },
    },
    async (request, reply) => {
      const { pdf, to, certificates, aes, permissions, encryptMetadata, ...params } = request.body;
      const recipients = (await recipientCertificates(ctx, to ?? [], certificates ?? [])).map(
        (certificate) => ({ certificate }),
      );
      const dir = await mkdtemp(join(work, 'protect-'));
      try {
        const input = join(dir, 'in.pdf');
        await writeFile(input, Buffer.from(pdf, 'base64'));
        const output = join(dir, 'out.pdf');
        const { keyId, options } = await sealSignOptions(ctx, params);
        const result = await protectPdf({
          ...options,
          input,
          output,
          recipients,
          ...(aes ? { aes } : {}),
          ...(permissions ? { permissions } : {}),
          ...(encryptMetadata === false ? { encryptMetadata: false } : {}),
        });
        await ctx.audit.append({
          actor: actorOf(request),
          action: 'pdf.protect',
          target: keyId,
          details: {
            keyUse: 'seal',
            level: result.signature.level,
            recipients: recipients.length,
            to: to ?? [],
          },
        });
        return sendFileAndClean(reply, output, dir);
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
  );

  app.post<{ Querystring: { format?: 'json' | 'text' } }>(
    '/v1/pdf/verify',
    {
      preHandler: requireScope(ctx.apiKeys, 'pdf:verify'),
      bodyLimit: MAX_PDF_BYTES,
      schema: {
        summary: 'Validate every signature and document timestamp in a PDF',
        description:
          'Integrity, CMS signature, chain to the Sealpost root (and configured anchors), revocation (DSS first), timestamps and modification analysis of later revisions.',
        tags: ['pdf'],
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { format: { type: 'string', enum: ['json', 'text'], default: 'json' } },
        },
      },
    },
    async (request, reply) => {
      const dir = await mkdtemp(join(work, 'verify-'));
      try {
        const input = await receivePdf(request, join(dir, 'in.pdf'));
        const report = await validatePdf(input, { trustAnchors: await trustAnchors(ctx) });
        if (request.query.format === 'text')
          return reply.type('text/plain; charset=utf-8').send(formatReport(report));
        return report;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  app.post<{ Body: { documents: ({ id: string; pdf: string } & SignParams)[] } }>(
    '/v1/pdf/batch',
    {
      preHandler: requireScope(ctx.apiKeys, 'pdf:sign'),
      bodyLimit: 100 * 1024 * 1024,
      schema: {
        summary: 'Sign several PDFs in one call',
        description: `Up to ${MAX_BATCH_DOCUMENTS} documents, each base64 in JSON with its own options; one result per document (a failure does not stop the others).`,
        tags: ['pdf'],
        security,
        body: {
          type: 'object',
          required: ['documents'],
          additionalProperties: false,
          properties: {
            documents: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_BATCH_DOCUMENTS,
              items: {
                type: 'object',
                required: ['id', 'pdf'],
                additionalProperties: false,
                properties: {
                  id: { type: 'string', maxLength: 128 },
                  pdf: { type: 'string' },
                  ...signParamsSchema.properties,
                },
              },
            },
          },
        },
      },
    },
    async (request) => {
      const results = [];
      for (const doc of request.body.documents) {
        const dir = await mkdtemp(join(work, 'batch-'));
        try {
          const input = join(dir, 'in.pdf');
          await writeFile(input, Buffer.from(doc.pdf, 'base64'));
          const output = join(dir, 'out.pdf');
          const { id, pdf: _pdf, ...params } = doc;
          const result = await signWithSeal(ctx, { input, output, params, actor: actorOf(request) });
          results.push({
            id,
            ok: true,
            level: result.level,
            field: result.field,
            pdf: (await readFile(output)).toString('base64'),
          });
        } catch (err) {
          results.push({ id: doc.id, ok: false, error: err instanceof Error ? err.message : String(err) });
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      return { results };
    },
  );

  app.post<{
    Body: {
      pdf: string;
      certificate: string;
      chain?: string[];
      field?: string;
      reason?: string;
      location?: string;
      visible?: string;
      hash?: 'sha256' | 'sha384' | 'sha512';
      timestamp?: boolean;
    };
  }>(
    '/v1/pdf/prepare',
    {
      preHandler: requireScope(ctx.apiKeys, 'pdf:sign'),
      bodyLimit: 100 * 1024 * 1024,
      schema: {
        summary: 'Two-phase signing, step 1: prepare the signature and return what the signer must sign',
        description:
          "For keys on the user's own token or a remote signing service: returns `digestToSign` (hash of the DER signed attributes) and `signedAttributes`. Send the signature (or a complete CMS) to /v1/pdf/finish within 15 minutes.",
        tags: ['pdf'],
        security,
        body: {
          type: 'object',
          required: ['pdf', 'certificate'],
          additionalProperties: false,
          properties: {
            pdf: { type: 'string', description: 'base64 PDF' },
            certificate: { type: 'string', description: 'signer certificate, PEM' },
            chain: {
              type: 'array',
              maxItems: 10,
              items: { type: 'string' },
              description: 'intermediate certificates, PEM',
            },
            field: signParamsSchema.properties.field,
            reason: signParamsSchema.properties.reason,
            location: signParamsSchema.properties.location,
            visible: signParamsSchema.properties.visible,
            hash: signParamsSchema.properties.hash,
            timestamp: { type: 'boolean', description: 'add a signature timestamp at finish (B-T)' },
          },
        },
      },
    },
    async (request) => {
      const b = request.body;
      const id = randomUUID();
      const dir = join(pending, id);
      await mkdir(dir, { mode: 0o700 });
      try {
        const input = join(dir, 'in.pdf');
        await writeFile(input, Buffer.from(b.pdf, 'base64'));
        const prepared = await preparePdfSignature({
          input,
          output: join(dir, 'prepared.pdf'),
          certificate: pemOrDer(b.certificate, 'CERTIFICATE'),
          chain: (b.chain ?? []).map((c) => pemOrDer(c, 'CERTIFICATE')),
          ...(b.field ? { field: b.field } : {}),
          ...(b.hash ? { hash: b.hash } : {}),
          ...(b.visible ? { visible: placement(b.visible) } : {}),
          details: {
            ...(b.reason ? { reason: b.reason } : {}),
            ...(b.location ? { location: b.location } : {}),
          },
          timestamp: b.timestamp ?? false,
        });
        await writeFile(
          join(dir, 'prepared.json'),
          JSON.stringify({ prepared, expires: Date.now() + PENDING_TTL_MS, timestamp: b.timestamp ?? false }),
          { mode: 0o600 },
        );
        await ctx.audit.append({
          actor: actorOf(request),
          action: 'pdf.prepare',
          target: id,
          details: { field: prepared.field, hash: prepared.hash },
        });
        return {
          id,
          expiresInSeconds: PENDING_TTL_MS / 1000,
          hash: prepared.hash,
          digestToSign: prepared.digestToSign,
          signedAttributes: prepared.signedAttributes,
          documentDigest: prepared.documentDigest,
        };
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
  );

  app.post<{ Body: { id: string; signature?: string; cms?: string } }>(
    '/v1/pdf/finish',
    {
      preHandler: requireScope(ctx.apiKeys, 'pdf:sign'),
      schema: {
        summary: 'Two-phase signing, step 2: embed the signature and return the signed PDF',
        tags: ['pdf'],
        security,
        body: {
          type: 'object',
          required: ['id'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', format: 'uuid' },
            signature: { type: 'string', description: 'base64 signature over signedAttributes' },
            cms: { type: 'string', description: 'base64 complete CMS SignedData instead' },
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      if (!b.signature === !b.cms)
        throw new HttpError(400, 'invalid_request', 'send exactly one of "signature" or "cms"');
      const dir = join(pending, b.id);
      let state: { prepared: PreparedSignature; expires: number; timestamp: boolean };
      try {
        state = JSON.parse(await readFile(join(dir, 'prepared.json'), 'utf8')) as typeof state;
      } catch {
        throw new HttpError(
          404,
          'not_found',
          `no prepared signature ${b.id}: it expired or was finished; prepare again`,
        );
      }
      if (state.expires < Date.now()) {
        await rm(dir, { recursive: true, force: true });
        throw new HttpError(410, 'expired', `prepared signature ${b.id} expired; prepare again`);
      }
      const result = b.signature
        ? { signature: Buffer.from(b.signature, 'base64') }
        : { cms: Buffer.from(b.cms ?? '', 'base64') };
      await finishPdfSignature(state.prepared, result, state.timestamp ? { tsa: { url: ctx.urls.tsa } } : {});
      await ctx.audit.append({
        actor: actorOf(request),
        action: 'pdf.finish',
        target: b.id,
        details: { field: state.prepared.field },
      });
      return sendFileAndClean(reply, state.prepared.output, dir);
    },
  );
}

/** What signing with the organisation seal needs: its key, certificate, chain, TSA and LTV anchors. */
async function sealSignOptions(ctx: Sealpost, params: SignParams) {
  const creds = await ctx.ca.serviceCredentials('seal');
  const issuing = await ctx.ca.authority(ISSUING_ID);
  const signer: PdfSigner = {
    key: creds.key.handle,
    certificate: creds.certificate.der,
    chain: [issuing.certificate.der],
  };
  const level = params.level ?? 'B-T';
  return {
    keyId: creds.key.id,
    options: {
      signer,
      level,
      ...(params.hash ? { hash: params.hash } : {}),
      ...(params.field ? { field: params.field } : {}),
      ...(params.certify ? { certify: params.certify } : {}),
      ...(params.visible ? { visible: placement(params.visible) } : {}),
      details: {
        ...(params.reason ? { reason: params.reason } : {}),
        ...(params.location ? { location: params.location } : {}),
      },
      ...(level !== 'B-B' ? { tsa: { url: ctx.urls.tsa } } : {}),
      ...(level === 'B-LT' || level === 'B-LTA' ? { ltv: { trustAnchors: await trustAnchors(ctx) } } : {}),
    } satisfies Omit<SignPdfOptions, 'input' | 'output'>,
  };
}

async function sweepExpired(pending: string): Promise<void> {
  for (const id of await readdir(pending).catch(() => [] as string[])) {
    const dir = join(pending, id);
    try {
      const { expires } = JSON.parse(await readFile(join(dir, 'prepared.json'), 'utf8')) as {
        expires: number;
      };
      if (expires < Date.now()) await rm(dir, { recursive: true, force: true });
    } catch {
      // No state file: a prepare that failed half-way; remove it once it is older than the TTL.
      const info = await stat(dir).catch(() => undefined);
      if (info && info.mtimeMs + PENDING_TTL_MS < Date.now()) await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Sign with the organisation seal key; every use is audited. */
async function signWithSeal(
  ctx: Sealpost,
  p: { input: string; output: string; params: SignParams; actor: string },
) {
  const { keyId, options } = await sealSignOptions(ctx, p.params);
  const result = await signPdf({ ...options, input: p.input, output: p.output });
  const size = (await stat(p.output)).size;
  await ctx.audit.append({
    actor: p.actor,
    action: 'pdf.sign',
    target: keyId,
    details: { keyUse: 'seal', level: result.level, field: result.field, bytes: size },
  });
  return result;
}

/**
 * Recipients by certificate (PEM) or by mailbox: for an address, the newest valid encryption
 * certificate this CA issued (the directory will widen this to harvested certificates).
 */
async function recipientCertificates(ctx: Sealpost, to: string[], pems: string[]): Promise<Buffer[]> {
  const certificates = pems.map((pem) => pemOrDer(pem, 'CERTIFICATE'));
  const now = new Date().toISOString();
  for (const email of to) {
    const records = await ctx.ca.list({ email, status: 'valid' });
    const usable = records.find(
      (r) => (r.profile === 'smime-encryption' || r.profile === 'smime-multipurpose') && r.notAfter > now,
    );
    if (!usable)
      throw new HttpError(
        422,
        'no_certificate',
        `${email} has no valid encryption certificate: issue one or send its certificate`,
      );
    certificates.push(usable.certificate);
  }
  if (certificates.length === 0)
    throw new HttpError(400, 'invalid_request', 'name at least one recipient in "to" or "certificates"');
  return certificates;
}

async function trustAnchors(ctx: Sealpost): Promise<Buffer[]> {
  return [(await ctx.ca.authority(ROOT_ID)).certificate.der];
}

function placement(spec: string) {
  const [page = 1, x = 0, y = 0, width = 0, height = 0] = spec.split(',').map(Number);
  if (width <= 0 || height <= 0 || page < 1)
    throw new HttpError(
      400,
      'invalid_request',
      'visible must be page,x,y,width,height with page ≥ 1 and a positive size',
    );
  return { page, x, y, width, height };
}

/** Write the streamed request body to `path`, refusing anything that is not a PDF or is too large. */
async function receivePdf(request: FastifyRequest, path: string): Promise<string> {
  const body = request.body as Readable | undefined;
  if (!body || typeof (body as Readable).pipe !== 'function') {
    throw new HttpError(
      415,
      'unsupported_media_type',
      'send the PDF as the request body with Content-Type: application/pdf',
    );
  }
  let seen = 0;
  let head = Buffer.alloc(0);
  const guard = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > MAX_PDF_BYTES)
        return done(new HttpError(413, 'body_too_large', `PDFs are limited to ${MAX_PDF_BYTES} bytes`));
      if (head.length < 5) head = Buffer.concat([head, chunk.subarray(0, 5 - head.length)]);
      done(null, chunk);
    },
  });
  await pipeline(body, guard, createWriteStream(path, { mode: 0o600 }));
  if (!head.toString('latin1').startsWith('%PDF-'))
    throw new HttpError(400, 'not_a_pdf', 'the body does not start with %PDF-: send a PDF file');
  return path;
}

function sendFileAndClean(reply: FastifyReply, file: string, dir: string): FastifyReply {
  const stream = createReadStream(file);
  const cleanup = () => void rm(dir, { recursive: true, force: true });
  stream.once('close', cleanup);
  return reply.type('application/pdf').send(stream);
}
