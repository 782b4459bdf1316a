/**
 * Two-phase (hash-out) signing for keys Sealpost does not hold — a user's USB token, a remote signing
 * service: `preparePdfSignature` writes the file with the placeholder and returns what must be signed
 * (the DER signed attributes and their digest, or the document digest for a signer that builds its own
 * CMS) plus a serialisable handle; `finishPdfSignature` embeds the signature value (the CMS is built
 * here, identical to the prepared attributes) or a complete CMS. Nothing is kept in memory in between:
 * the handle and the prepared file are all the state.
 */
import { constants, createHash, createPublicKey, verify } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { HashAlgorithm, KeyHandle } from '../../crypto/key-handle.js';
import { isRsa } from '../../crypto/key-handle.js';
import { parseCertificate } from '../../pkix/certificate.js';
import { signData } from '../../pkix/cms/signed-data.js';
import { PdfDocument } from '../document.js';
import { BufferSource } from '../source.js';
import { patchFile } from '../writer/output.js';
import { PdfSignError } from './errors.js';
import { contentsHex } from './placeholder.js';
import { writeSignedRevision } from './revision.js';
import { estimateContentsSize, prepareSignatureUpdate, type SignPdfOptions } from './sign-pdf.js';
import { timestampData, type TsaOptions } from './tsa.js';

export interface PrepareOptions extends Omit<SignPdfOptions, 'signer' | 'level' | 'tsa' | 'ltv'> {
  /** The signer's certificate and the chain to embed; the key stays outside. */
  certificate: Buffer;
  chain?: Buffer[];
  /** Reserve room for a signature timestamp added at finish (B-T). */
  timestamp?: boolean;
}

/** Everything `finishPdfSignature` needs; plain data (base64 strings), safe to store or send. */
export interface PreparedSignature {
  output: string;
  byteRange: [number, number, number, number];
  contentsOffset: number;
  contentsBytes: number;
  hash: HashAlgorithm;
  pss: boolean;
  field: string;
  /** Digest of the bytes /ByteRange covers (for a signer that builds its own CMS). */
  documentDigest: string;
  /** DER SET OF Attribute the signature must cover. */
  signedAttributes: string;
  /** hash(signedAttributes): what a hash-signing device signs. */
  digestToSign: string;
  certificate: string;
  chain: string[];
}

/** A stand-in key: records what signData asks it to sign (prepare) or returns the external value (finish). */
function externalKey(certificate: Buffer, answer: (data: Buffer) => Buffer): KeyHandle {
  const cert = parseCertificate(certificate);
  return {
    algorithm: cert.keyAlgorithm,
    backend: 'software',
    spki: cert.spki,
    sign: async (data) => answer(Buffer.from(data)),
    signDigest: async () => {
      throw new PdfSignError('the external signer signs the signed attributes, not a digest');
    },
  };
}

export async function preparePdfSignature(o: PrepareOptions): Promise<PreparedSignature> {
  const hash = o.hash ?? 'sha256';
  const chain = o.chain ?? [];
  const probe = externalKey(o.certificate, () => Buffer.alloc(0));
  const signer = { key: probe, certificate: o.certificate, chain };
  const contentsBytes = o.contentsSize ?? estimateContentsSize(signer, !!o.timestamp);
  const doc = Buffer.isBuffer(o.input)
    ? await PdfDocument.open(new BufferSource(o.input), o.open)
    : await PdfDocument.openFile(o.input, o.open);
  let signedAttributes: Buffer | undefined;
  let documentDigest: Buffer | undefined;
  try {
    const { update, sigRef, fieldName } = await prepareSignatureUpdate(doc, { ...o, signer }, contentsBytes);
    const layout = await writeSignedRevision(
      o.input,
      o.output,
      update,
      sigRef,
      contentsBytes,
      async (covered) => {
        const hasher = createHash(hash);
        await signData(tee(covered, hasher), {
          signer: externalKey(o.certificate, (data) => {
            signedAttributes = data;
            return Buffer.alloc(0);
          }),
          certificate: o.certificate,
          chain,
          hash,
          signingTime: false,
          capabilities: [],
        });
        documentDigest = hasher.digest();
        return Buffer.alloc(0);
      },
    );
    return {
      output: o.output,
      byteRange: layout.byteRange,
      contentsOffset: layout.contentsOffset,
      contentsBytes,
      hash,
      pss: !!o.pss,
      field: fieldName,
      documentDigest: documentDigest!.toString('base64'),
      signedAttributes: signedAttributes!.toString('base64'),
      digestToSign: createHash(hash).update(signedAttributes!).digest('base64'),
      certificate: o.certificate.toString('base64'),
      chain: chain.map((c) => c.toString('base64')),
    };
  } finally {
    await doc.close();
  }
}

export type ExternalResult = { signature: Buffer } | { cms: Buffer };

/** Embed the external signature (checked against the certificate) or a complete CMS into the prepared file. */
export async function finishPdfSignature(
  p: PreparedSignature,
  result: ExternalResult,
  o: { tsa?: TsaOptions } = {},
): Promise<{ output: string; signatureTimestamp?: Date }> {
  let cms: Buffer;
  let genTime: Date | undefined;
  if ('cms' in result) cms = result.cms;
  else {
    const certificate = Buffer.from(p.certificate, 'base64');
    const signedAttributes = Buffer.from(p.signedAttributes, 'base64');
    checkSignature(certificate, p.hash, p.pss, signedAttributes, result.signature);
    cms = await signData(readCovered(p.output, p.byteRange), {
      signer: externalKey(certificate, (data) => {
        if (!data.equals(signedAttributes))
          throw new PdfSignError('the prepared file has changed since prepare(): prepare it again');
        return result.signature;
      }),
      certificate,
      chain: p.chain.map((c) => Buffer.from(c, 'base64')),
      hash: p.hash,
      ...(p.pss ? { pss: true } : {}),
      signingTime: false,
      capabilities: [],
      ...(o.tsa
        ? {
            timestamp: async (signature: Buffer) => {
              const token = await timestampData(o.tsa!, signature);
              genTime = token.genTime;
              return token.token;
            },
          }
        : {}),
    });
  }
  await patchFile(p.output, p.contentsOffset, contentsHex(cms, p.contentsBytes));
  return { output: p.output, ...(genTime ? { signatureTimestamp: genTime } : {}) };
}

function checkSignature(
  certificate: Buffer,
  hash: HashAlgorithm,
  pss: boolean,
  data: Buffer,
  signature: Buffer,
): void {
  const cert = parseCertificate(certificate);
  const key = createPublicKey({ key: cert.spki, format: 'der', type: 'spki' });
  const rsa = isRsa(cert.keyAlgorithm);
  const ok = verify(
    cert.keyAlgorithm === 'ed25519' ? null : hash,
    data,
    rsa && pss
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
      : { key, dsaEncoding: 'der' },
    signature,
  );
  if (!ok)
    throw new PdfSignError(
      'the external signature does not verify with the signer certificate over the prepared attributes',
    );
}

async function* tee(
  source: AsyncIterable<Buffer>,
  hasher: ReturnType<typeof createHash>,
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hasher.update(chunk);
    yield chunk;
  }
}

/** The bytes /ByteRange covers, streamed from the file. */
async function* readCovered(path: string, br: [number, number, number, number]): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (const [start, length] of [
      [br[0], br[1]],
      [br[2], br[3]],
    ] as const) {
      for (let at = start; at < start + length;) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, start + length - at), at);
        if (!bytesRead) throw new PdfSignError('the prepared file is shorter than its /ByteRange');
        at += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    }
  } finally {
    await fh.close();
  }
}
