/**
 * Verifying a signed message: multipart/signed (the signature is checked over the exact received bytes of the
 * first part, never a re-serialisation) or opaque signed-data; then the signer's certificate through the
 * validation layer (chain to the configured anchors, usage, revocation, RFC 8550 address vs From) and the
 * signature timestamp. openMessage peels any nesting: decrypt, verify, decrypt again for a triple wrap.
 */
import { parseCertificate } from '../pkix/certificate.js';
import {
  CmsSignedDataError,
  readCmsSignedData,
  verifySignedDataView,
  type SignatureCheck,
} from '../pkix/cms/signed-data.js';
import { OID_SIGNATURE_TIMESTAMP_TOKEN } from '../pkix/cms/signed-attributes.js';
import type { DecryptionKey } from '../pkix/cms/enveloped-data.js';
import {
  certificateAddresses,
  validateCertificate,
  validateTimestampToken,
  type Check,
  type RevocationCache,
  type RevocationPolicy,
  type Verdict,
} from '../validation/index.js';
import type { SmimeCredential } from './credentials.js';
import {
  carriesProtectedHeaders,
  decryptEntity,
  restoreMessage,
  SMIME_LIMITS,
  SmimeDecryptError,
  smimeStructure,
} from './decrypt.js';
import {
  canonicalize,
  decodeBody,
  headerValue,
  isStructuralField,
  parseMime,
  parseMimeHead,
  partBytes,
  readProtectedHeaders,
  type HeaderField,
  type MimePart,
} from './mime/index.js';
import {
  VerificationFindings,
  verificationResult,
  type SignerReport,
  type SmimeVerification,
} from './result.js';

export interface SmimeVerifyOptions {
  /** DER certificates of the trusted roots (or other anchors). */
  trustAnchors: Buffer[];
  /** Extra untrusted certificates for path building (the signature's own are always used). */
  intermediates?: Buffer[];
  /** Default: if-available, soft-fail when unreachable (validation layer default). */
  revocation?: RevocationPolicy;
  cache?: RevocationCache;
  /** Validation time; default now. */
  at?: Date;
}

/** The first address in a From field: `Name <a@b>` or a bare addr-spec. */
export function fromAddress(field: string | undefined): string | undefined {
  if (!field) return undefined;
  const angle = /<\s*([^<>\s]+@[^<>\s]+)\s*>/.exec(field);
  const bare = angle ? undefined : /[^\s<>",;:()]+@[^\s<>",;:()]+/.exec(field);
  return (angle?.[1] ?? bare?.[0])?.toLowerCase();
}

/**
 * RFC 5322 mail is CRLF on the wire; Unix mailboxes and `openssl smime` store it with LF only. A message with no
 * CR at all is such a stored copy and is read in its wire form. A message that mixes the two (CRLF headers, an
 * LF-only signed part) was rewritten in transit, and its exact bytes are what the signature is checked over.
 */
export function wireForm(message: Buffer): Buffer {
  return message.includes(0x0d) ? message : canonicalize(message);
}

/** Verify a signed message (multipart/signed or opaque). Never throws on bad input: see the verdict. */
export async function verifyMessage(received: Buffer, o: SmimeVerifyOptions): Promise<SmimeVerification> {
  const findings = new VerificationFindings();
  const message = wireForm(received);
  let root: MimePart;
  let structure: ReturnType<typeof smimeStructure>;
  try {
    root = parseMime(message, SMIME_LIMITS);
    structure = smimeStructure(message, root);
  } catch (e) {
    findings.fail('parse', 'malformed', `the message cannot be read: ${(e as Error).message}`);
    return verificationResult(findings, {});
  }
  return verifyStructure(message, root, structure, findings, o);
}

/** verifyMessage once the message (in its wire form) is parsed. */
async function verifyStructure(
  message: Buffer,
  root: MimePart,
  structure: ReturnType<typeof smimeStructure>,
  findings: VerificationFindings,
  o: SmimeVerifyOptions,
): Promise<SmimeVerification> {
  if (structure.kind === 'enveloped' || structure.kind === 'auth-enveloped') {
    findings.fail(
      'signature',
      'no-signature',
      'the message is encrypted: decrypt it first (pass the key) to verify it',
    );
    return verificationResult(findings, {});
  }
  if (structure.kind === 'multipart-signed') {
    const [signed, signature] = root.children ?? [];
    if (!signed || !signature || (root.children?.length ?? 0) !== 2) {
      findings.fail(
        'structure',
        'malformed',
        `multipart/signed needs exactly 2 parts (content, signature), found ${root.children?.length ?? 0}`,
      );
      return verificationResult(findings, {});
    }
    const content = partBytes(message, signed);
    return verifySignature(decodeBody(message, signature), content, root, findings, o, 'multipart-signed');
  }
  if (structure.kind === 'signed') {
    return verifySignature(structure.der, undefined, root, findings, o, 'opaque');
  }
  findings.fail(
    'signature',
    'no-signature',
    `the message (${root.contentType.mediaType}) carries no S/MIME signature`,
  );
  return verificationResult(findings, {});
}

/**
 * The detached content of a multipart/signed message: in memory, or (file form) a stream of its exact bytes read
 * again for each use, with its header section for the From and protected-header checks.
 */
export type DetachedContent = Buffer | { stream: () => AsyncIterable<Uint8Array>; head: Buffer };

export async function verifySignature(
  der: Buffer,
  detachedContent: DetachedContent | undefined,
  root: MimePart,
  findings: VerificationFindings,
  o: SmimeVerifyOptions,
  format: 'multipart-signed' | 'opaque',
): Promise<SmimeVerification> {
  let verified;
  let signatureValues: Buffer[];
  let tokens: (Buffer | undefined)[];
  try {
    const view = readCmsSignedData(der);
    // The token is validated fully below (validateTimestampToken): no need to check it twice.
    const content = Buffer.isBuffer(detachedContent) ? detachedContent : detachedContent?.stream();
    verified = await verifySignedDataView(view, { timestamps: false, ...(content ? { content } : {}) });
    signatureValues = view.signers.map((s) => s.signature);
    tokens = view.signers.map((s) => s.unsignedAttributes.get(OID_SIGNATURE_TIMESTAMP_TOKEN)?.[0]);
  } catch (e) {
    if (!(e instanceof CmsSignedDataError)) throw e;
    findings.fail('signature', 'malformed', `the signature cannot be read: ${e.message}`);
    return verificationResult(findings, { format });
  }
  // In the file form only the content's header section is at hand (and is all the From check needs).
  const inMemory = detachedContent === undefined || Buffer.isBuffer(detachedContent);
  const content =
    detachedContent === undefined
      ? (verified.encapsulatedContent ?? Buffer.alloc(0))
      : Buffer.isBuffer(detachedContent)
        ? detachedContent
        : detachedContent.head;
  const check = verified.signers[0];
  if (!check) {
    findings.fail('signature', 'no-signature', 'the signature structure has no signer');
    return verificationResult(findings, { format, ...(inMemory ? { content } : {}) });
  }
  if (verified.signers.length > 1) {
    findings.pass('signers', `${verified.signers.length} signers; the first is reported`, true);
  }

  // RFC 9788 §4: with protected headers inside the signed content, its From is the one that counts.
  const outerFrom = fromAddress(headerValue(root, 'from'));
  let from = outerFrom;
  try {
    const view = readProtectedHeaders(parseMimeHead(content, SMIME_LIMITS), root.headers);
    if (view.source === 'protected')
      from = fromAddress(view.headers.find((h) => h.name.toLowerCase() === 'from')?.value);
  } catch {
    // unparseable content: the signature result still stands; the From of the outer header is used
  }
  if (outerFrom && from && outerFrom !== from) {
    // RFC 9788 §4.4: a reader shows the protected From; the one outside may have been changed in transit.
    findings.pass(
      'outer address',
      `the From outside the signature (${outerFrom}) differs from the protected From (${from}); the protected one is checked`,
      true,
    );
  }

  cryptographicChecks(check, findings);
  // A valid signature timestamp proves the signature existed at genTime: the signer's chain and revocation are
  // judged at that time, so a certificate revoked or expired later still verifies (ETSI EN 319 102-1 §5.6.2.2,
  // as for PAdES B-T). The token is checked first for that reason.
  const token = tokens[0];
  const stamped = token ? await timestampChecks(token, signatureValues[0] as Buffer, check, o) : undefined;
  const at = o.at ?? stamped?.genTime;
  const signer = await trustChecks(check, from, findings, { ...o, ...(at ? { at } : {}) });
  if (stamped) {
    findings.addValidation('timestamp', stamped.result);
    if (stamped.genTime) signer.timestampTime = stamped.genTime;
    if (stamped.genTime && !o.at) {
      findings.pass(
        'validation time',
        `the signer's certificate was checked at the signature timestamp ${stamped.genTime.toISOString()}; a revocation or expiry after that time does not invalidate the signature`,
      );
    }
  }
  return verificationResult(findings, {
    format,
    signer,
    ...(inMemory ? { content } : {}),
    ...(from ? { from } : {}),
  });
}

function cryptographicChecks(check: SignatureCheck, findings: VerificationFindings): void {
  if (!check.signerCertificate) {
    findings.fail(
      'signature',
      'untrusted',
      `the signer certificate (${check.signerIdentifier}) is not in the message`,
    );
    return;
  }
  if (check.digestAlgorithm === 'unsupported') {
    findings.fail('signature', 'untrusted', check.problems.join('; '));
    return;
  }
  if (check.signatureValid && check.digestMatches && check.problems.length === 0) {
    findings.pass(
      'signature',
      `${check.signatureAlgorithm} signature over ${check.digestAlgorithm} digest verifies; the content is unchanged`,
    );
  } else {
    findings.fail('signature', 'tampered', check.problems.join('; ') || 'the signature does not verify');
  }
}

async function trustChecks(
  check: SignatureCheck,
  from: string | undefined,
  findings: VerificationFindings,
  o: SmimeVerifyOptions,
): Promise<SignerReport> {
  const report: SignerReport = {
    addresses: [],
    ...(check.signingTime ? { signingTime: check.signingTime } : {}),
    ...(check.capabilities ? { capabilities: check.capabilities } : {}),
    ...(check.encryptionKeyPreference ? { encryptionKeyPreference: check.encryptionKeyPreference } : {}),
  };
  if (!check.signerCertificate) return report;
  report.certificate = check.signerCertificate;
  try {
    const cert = parseCertificate(check.signerCertificate);
    report.subject = cert.subjectString;
    report.addresses = [...certificateAddresses(cert)];
  } catch {
    // validateCertificate reports it as malformed
  }
  if (!from)
    findings.pass('address', 'the message has no From address to compare with the certificate', true);
  const result = await validateCertificate(check.signerCertificate, {
    trustAnchors: o.trustAnchors,
    intermediates: [...check.certificates, ...(o.intermediates ?? [])],
    purpose: 'smime-signing',
    ...(from ? { email: from } : {}),
    ...(o.revocation ? { revocation: o.revocation } : {}),
    ...(o.cache ? { cache: o.cache } : {}),
    ...(o.at ? { at: o.at } : {}),
  });
  findings.addValidation('', result);
  return report;
}

/** The token's validation, and its genTime when the token is valid (only then may it move the validation time). */
async function timestampChecks(
  token: Buffer,
  signatureValue: Buffer,
  check: SignatureCheck,
  o: SmimeVerifyOptions,
): Promise<{ result: { verdict: Verdict; checks: Check[] }; genTime?: Date }> {
  const result = await validateTimestampToken(token, {
    data: signatureValue,
    trustAnchors: o.trustAnchors,
    intermediates: [...check.certificates, ...(o.intermediates ?? [])],
    ...(o.revocation ? { revocation: o.revocation } : {}),
    ...(o.cache ? { cache: o.cache } : {}),
  });
  return {
    result: {
      verdict: result.verdict,
      checks: result.checks.map((c) => (c.name === 'timestamp' ? { ...c, name: 'token' } : c)),
    },
    ...(result.genTime && result.verdict === 'valid' ? { genTime: result.genTime } : {}),
  };
}

// ------------------------------------------------------------------------------------------ nested messages

export type SmimeLayer =
  | { type: 'encrypted'; cipher: string; authenticated: boolean; recipient: string }
  | { type: 'signed'; verification: SmimeVerification };

export interface OpenedMessage {
  /** Every layer peeled, outermost first. */
  layers: SmimeLayer[];
  /** The innermost signature's verdict; 'no-signature' when there was none. */
  verification: SmimeVerification;
  /** The readable message after the last layer (decrypted, signature removed). */
  message: Buffer;
}

/** A triple wrap has three layers; more is a nesting bomb. */
const MAX_LAYERS = 6;

/** Decrypt and verify as many S/MIME layers as the message has (sign-then-encrypt, triple wrap). */
export async function openMessage(
  message: Buffer,
  o: SmimeVerifyOptions & { keys?: ReadonlyArray<DecryptionKey | SmimeCredential> },
): Promise<OpenedMessage> {
  const layers: SmimeLayer[] = [];
  let current = wireForm(message);
  // After a decryption `current` is the bare inner entity and the message-level fields stay where they were
  // (`carried`): the message is only put together again when a layer is done, one copy instead of two.
  let carried: { raw: Buffer; fields: readonly HeaderField[] } | undefined;
  let last: SmimeVerification | undefined;
  for (let depth = 0; depth < MAX_LAYERS; depth++) {
    if (carried && !current.includes(0x0d)) {
      // An LF-only inner entity is read in its wire form, which verifyMessage makes from a whole message.
      current = restoreMessage(carried.raw, carried.fields, current).message;
      carried = undefined;
    }
    let parsed: MimePart;
    let structure: ReturnType<typeof smimeStructure>;
    try {
      parsed = parseMime(current, SMIME_LIMITS);
      structure = smimeStructure(current, parsed);
    } catch {
      // Unreadable at the top: verifyMessage turns the same failure into the verdict 'malformed'.
      if (depth === 0) last = await verifyMessage(current, o);
      break;
    }
    // The entity's own structure, read with the message-level fields that apply to it.
    const root: MimePart = carried ? { ...parsed, headers: [...carried.fields] } : parsed;
    const fieldsRaw = carried?.raw ?? current;
    if (structure.kind === 'enveloped' || structure.kind === 'auth-enveloped') {
      if (!o.keys?.length)
        throw new SmimeDecryptError(
          'the message is encrypted: pass the recipient key (--key) to decrypt and verify it',
        );
      const d = await decryptEntity(current, root, structure, o.keys);
      layers.push({
        type: 'encrypted',
        cipher: d.cipher,
        authenticated: d.authenticated,
        recipient: d.recipient.keyTransport,
      });
      if (carriesProtectedHeaders(d.entity)) {
        current = restoreMessage(fieldsRaw, root.headers, d.entity).message;
        carried = undefined;
      } else {
        current = d.entity;
        carried = { raw: fieldsRaw, fields: root.headers.filter((f) => !isStructuralField(f.name)) };
      }
      continue;
    }
    if (structure.kind !== 'multipart-signed' && structure.kind !== 'signed') break;
    // `current` is already in wire form unless a decrypted layer is not: then verifyMessage converts it.
    last =
      wireForm(current) === current
        ? await verifyStructure(current, root, structure, new VerificationFindings(), o)
        : await verifyMessage(current, o);
    layers.push({ type: 'signed', verification: last });
    if (!last.content) break;
    try {
      current = restoreMessage(fieldsRaw, root.headers, last.content).message;
      carried = undefined;
    } catch {
      break; // signed content that is not MIME: nothing further to unwrap
    }
  }
  if (carried) current = restoreMessage(carried.raw, carried.fields, current).message;
  if (!last) {
    const findings = new VerificationFindings();
    findings.fail('signature', 'no-signature', 'the message carries no S/MIME signature');
    last = verificationResult(findings, {});
  }
  return { layers, verification: worstSignature(layers) ?? last, message: current };
}

/** With several signed layers (triple wrap) the message is only as good as its weakest signature. */
function worstSignature(layers: SmimeLayer[]): SmimeVerification | undefined {
  const signed = layers.flatMap((l) => (l.type === 'signed' ? [l.verification] : []));
  return signed.find((v) => !v.ok) ?? signed[signed.length - 1];
}
