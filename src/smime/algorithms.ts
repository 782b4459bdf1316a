/**
 * Choosing how to encrypt for a set of recipients (RFC 8551 §2.7.1): the strongest algorithms every one of them
 * can read. Clients that never told us what they read (no harvested SMIMECapabilities) get what Outlook, NSS and
 * gpgsm all read: EnvelopedData, AES-256-CBC, RSA PKCS#1 v1.5 key transport (../shared/DESIGN.md). EC
 * recipients always get ECDH key agreement (RFC 5753): their key can do nothing else.
 */
import type { ContentCipher, Recipient } from '../pkix/cms/enveloped-data.js';
import { readRecipientCertificate } from '../pkix/cms/recipients.js';
import { SMIME_CAPABILITY, type SmimeCapability } from '../pkix/cms/smime-capabilities.js';
import { Asn1Error } from '../pkix/errors.js';

export interface EncryptionTarget {
  /** DER certificate of the recipient (its encryption certificate). */
  certificate: Buffer;
  /** SMIMECapabilities harvested from the recipient's earlier signed mail, in its preference order. */
  capabilities?: readonly SmimeCapability[];
}

export interface AlgorithmChoice {
  cipher: ContentCipher;
  recipients: Recipient[];
  /** One line per decision, for logs and `--json` output. */
  reasons: string[];
}

/** The recipient's certificate cannot be encrypted to. */
export class SmimeRecipientError extends Error {
  override name = 'SmimeRecipientError';
}

const advertises = (target: EncryptionTarget, cap: SmimeCapability): boolean =>
  target.capabilities?.some(
    (c) =>
      c.capabilityId === cap.capabilityId &&
      (cap.parameters === undefined || c.parameters?.equals(cap.parameters) === true),
  ) === true;

/** Ciphers strongest first; a recipient without capabilities reads the CBC ones (everyone does). */
const CIPHER_PREFERENCE: { cipher: ContentCipher; capability: SmimeCapability; needsAdvert: boolean }[] = [
  { cipher: 'aes-256-gcm', capability: SMIME_CAPABILITY.aes256Gcm, needsAdvert: true },
  { cipher: 'aes-128-gcm', capability: SMIME_CAPABILITY.aes128Gcm, needsAdvert: true },
  { cipher: 'aes-256-cbc', capability: SMIME_CAPABILITY.aes256Cbc, needsAdvert: false },
  { cipher: 'aes-128-cbc', capability: SMIME_CAPABILITY.aes128Cbc, needsAdvert: false },
];

function canRead(target: EncryptionTarget, entry: (typeof CIPHER_PREFERENCE)[number]): boolean {
  if (advertises(target, entry.capability)) return true;
  if (entry.needsAdvert) return false;
  // A list that names AES-CBC ciphers but not this one says the client cannot read it (RFC 8551 §2.5.2).
  const namesAnyCbc = CIPHER_PREFERENCE.some((e) => !e.needsAdvert && advertises(target, e.capability));
  return !namesAnyCbc;
}

/**
 * Pick the content cipher and each recipient's key transport. `cipher` forces a content cipher (the caller's
 * explicit choice, e.g. `--cipher`); otherwise the strongest one every recipient can read.
 */
export function chooseAlgorithms(
  targets: readonly EncryptionTarget[],
  cipher?: ContentCipher,
): AlgorithmChoice {
  if (targets.length === 0) throw new SmimeRecipientError('at least one recipient certificate is needed');
  const reasons: string[] = [];
  let chosen = cipher;
  if (chosen) reasons.push(`content cipher ${chosen}: chosen by the caller`);
  else {
    const entry = CIPHER_PREFERENCE.find((e) => targets.every((t) => canRead(t, e)));
    chosen = entry?.cipher ?? 'aes-256-cbc';
    reasons.push(
      entry
        ? `content cipher ${chosen}: the strongest every recipient can read`
        : 'content cipher aes-256-cbc: the recipients advertise no common AES cipher; using the universal default',
    );
  }
  const recipients = targets.map((t, i): Recipient => {
    let kind: string;
    try {
      kind = readRecipientCertificate(t.certificate).kind;
    } catch (e) {
      const message = e instanceof Asn1Error ? e.message : String(e);
      throw new SmimeRecipientError(`recipient ${i + 1}: the certificate cannot be read (${message})`);
    }
    if (kind === 'rsa' && advertises(t, SMIME_CAPABILITY.rsaesOaepSha256)) {
      reasons.push(`recipient ${i + 1}: RSA-OAEP-SHA256 (advertised)`);
      return { certificate: t.certificate, keyTransport: 'rsa-oaep-sha256' };
    }
    reasons.push(
      `recipient ${i + 1}: ${kind === 'rsa' ? 'RSA PKCS#1 v1.5 key transport' : kind === 'other' ? 'unsupported key' : `${kind.toUpperCase()} key agreement`}`,
    );
    return kind === 'rsa'
      ? { certificate: t.certificate, keyTransport: 'rsa-pkcs1' }
      : { certificate: t.certificate };
  });
  return { cipher: chosen, recipients, reasons };
}
