/**
 * The public-key security handler, /Filter /Adobe.PubSec (ISO 32000-2 §7.6.5): the file key is derived
 * from a random 20-byte seed that each recipient receives, with the permission bytes, inside a CMS
 * EnvelopedData in the /Recipients array.
 *
 * Reading: `pubSecSecurityHandler(keys)` is an OpenOptions.securityHandlers factory. It finds the
 * envelope addressed to one of the keys, opens it and derives the file key (§7.6.5.3):
 *   key = H(seed ‖ every /Recipients string, in order ‖ 0xFFFFFFFF when metadata is not encrypted)
 * truncated to the key length, with H = SHA-256 for AESV3 (/V 5) and SHA-1 otherwise. /SubFilter
 * adbe.pkcs7.s5 keeps /Recipients in the crypt filter (/V 4, 5); adbe.pkcs7.s4 keeps them in the
 * encryption dictionary (/V 1, 2, RC4).
 * Writing: `createPubSecEncryption()` makes the seed, one envelope per recipient (RSA PKCS#1 v1.5 or
 * ECDH key transport, AES-256-CBC content, what Acrobat reads) and the /Encrypt dictionary, and returns
 * the EncryptionInfo a writer encrypts with.
 *
 * Failures are PdfError subclasses: a key that is no recipient is a PdfRecipientError naming the
 * recipients; a wrong key and a damaged envelope give one and the same message (no padding oracle).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Asn1Error } from '../../pkix/errors.js';
import {
  CmsDecryptError,
  CmsEncryptError,
  decryptEnvelopedData,
  encryptEnvelopedData,
  type DecryptionKey,
  type Recipient,
} from '../../pkix/cms/enveloped-data.js';
import { PdfEncryptionError, PdfUnsupportedError } from '../errors.js';
import { PdfArray, PdfBoolean, PdfDict, PdfName, PdfNumber, PdfString } from '../objects.js';
import type { PdfObject } from '../objects.js';
import type { SecurityHandlerFactory } from '../document.js';
import { FileKeySecurityHandler, readCryptConfig } from './security-handler.js';
import type { CryptMethod, EncryptionInfo } from './security-handler.js';

export const PUBSEC_FILTER = 'Adobe.PubSec';
const SEED_LENGTH = 20;
/** Envelopes we open before giving up, and the size of one (a seed and permissions are 24 bytes). */
const MAX_RECIPIENT_STRINGS = 1000;
const MAX_ENVELOPE_BYTES = 1024 * 1024;
const CRYPT_FILTER_NAME = 'DefaultCryptFilter';

/** A key that is not among the recipients, or an envelope it cannot open. */
export class PdfRecipientError extends PdfEncryptionError {
  override name = 'PdfRecipientError';
}

/** The message for a wrong key and a damaged envelope alike (RFC 3218 §2.3: no padding oracle). */
export const PUBSEC_CANNOT_DECRYPT =
  'cannot open the PDF: its recipient envelope is damaged or the private key does not belong to the recipient certificate';

// ---------------------------------------------------------------- permissions (Table 24)

/** Public-key permissions (ISO 32000-2 Table 24), by bit position (1 = least significant). */
export const PDF_PERMISSION_BITS = {
  print: 3,
  modify: 4,
  copy: 5,
  annotate: 6,
  'fill-forms': 9,
  accessibility: 10,
  assemble: 11,
  'print-high': 12,
} as const;
export type PdfPermission = keyof typeof PDF_PERMISSION_BITS;
export const ALL_PDF_PERMISSIONS = Object.keys(PDF_PERMISSION_BITS) as PdfPermission[];

/**
 * The 32-bit permission value: the chosen bits, bits 7–8 and 13–32 set as reserved bits are (Table 22),
 * bits 1–2 clear (bit 2 would grant everything, including changing the encryption).
 */
export function permissionValue(permissions: readonly PdfPermission[]): number {
  let p = 0xfffff0c0;
  for (const name of permissions) {
    const bit = PDF_PERMISSION_BITS[name];
    if (bit === undefined) throw new PdfEncryptionError(`unknown PDF permission "${String(name)}"`);
    p |= 1 << (bit - 1);
  }
  return p | 0;
}

/** Names of the permissions granted by `p` (bit 2 grants them all). */
export function permissionNames(p: number): PdfPermission[] {
  if (p & 2) return [...ALL_PDF_PERMISSIONS];
  return ALL_PDF_PERMISSIONS.filter((name) => p & (1 << (PDF_PERMISSION_BITS[name] - 1)));
}

// ---------------------------------------------------------------- key derivation

/** §7.6.5.3: the file key from the seed, every /Recipients string and the metadata flag. */
export function pubSecFileKey(p: {
  seed: Buffer;
  recipients: readonly Buffer[];
  encryptMetadata: boolean;
  method: CryptMethod;
  keyBits: number;
}): Buffer {
  const h = createHash(p.method === 'AESV3' ? 'sha256' : 'sha1').update(p.seed);
  for (const r of p.recipients) h.update(r);
  if (!p.encryptMetadata) h.update(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  return h.digest().subarray(0, p.keyBits / 8);
}

// ---------------------------------------------------------------- reading

interface PubSecLayout {
  subFilter: string;
  recipients: Buffer[];
  method: CryptMethod;
  config: ReturnType<typeof readCryptConfig>;
}

function recipientStrings(value: PdfObject | undefined, where: string): Buffer[] {
  if (value?.kind === 'string') return [value.bytes];
  if (value?.kind !== 'array' || value.items.length === 0)
    throw new PdfEncryptionError(`${where} /Recipients is missing or not an array of strings`);
  if (value.items.length > MAX_RECIPIENT_STRINGS)
    throw new PdfEncryptionError(`${where} /Recipients has more than ${MAX_RECIPIENT_STRINGS} entries`);
  return value.items.map((item, i) => {
    if (item.kind !== 'string') throw new PdfEncryptionError(`${where} /Recipients[${i}] is not a string`);
    if (item.bytes.length > MAX_ENVELOPE_BYTES)
      throw new PdfEncryptionError(`${where} /Recipients[${i}] is larger than ${MAX_ENVELOPE_BYTES} bytes`);
    return item.bytes;
  });
}

/** Where the recipients are and which method protects the document (§7.6.5.2, Table 27/28). */
function readLayout(encrypt: PdfDict): PubSecLayout {
  const subFilter = encrypt.getName('SubFilter') ?? '';
  const config = readCryptConfig(encrypt);
  if (subFilter === 'adbe.pkcs7.s5') {
    if (config.v !== 4 && config.v !== 5)
      throw new PdfEncryptionError(`/SubFilter /adbe.pkcs7.s5 needs /V 4 or 5, not ${config.v}`);
    const name = encrypt.getName('StmF') ?? encrypt.getName('StrF') ?? CRYPT_FILTER_NAME;
    const cf = encrypt.get('CF');
    const filter = cf?.kind === 'dict' ? cf.get(name) : undefined;
    if (filter?.kind !== 'dict')
      throw new PdfEncryptionError(`/CF has no crypt filter /${name} holding the recipients`);
    const method = config.cryptFilters[name] ?? 'None';
    if (method !== 'AESV2' && method !== 'AESV3' && method !== 'RC4')
      throw new PdfUnsupportedError(`public-key crypt filter method ${method} is not supported`);
    const metadataFlag = filter.get('EncryptMetadata');
    const encryptMetadata =
      config.encryptMetadata && !(metadataFlag?.kind === 'boolean' && !metadataFlag.value);
    const keyBits = method === 'AESV3' ? 256 : method === 'AESV2' ? 128 : config.keyBits;
    return {
      subFilter,
      recipients: recipientStrings(filter.get('Recipients'), `crypt filter /${name}`),
      method,
      config: { ...config, keyBits, encryptMetadata },
    };
  }
  if (subFilter === 'adbe.pkcs7.s4' || subFilter === 'adbe.pkcs7.s3') {
    if (config.v !== 1 && config.v !== 2)
      throw new PdfEncryptionError(`/SubFilter /${subFilter} needs /V 1 or 2, not ${config.v}`);
    return {
      subFilter,
      recipients: recipientStrings(encrypt.get('Recipients'), 'the encryption dictionary'),
      method: 'RC4',
      config,
    };
  }
  throw new PdfUnsupportedError(
    `public-key /SubFilter /${subFilter || '(none)'} is not supported (adbe.pkcs7.s4 and s5 are)`,
  );
}

/** Open the first envelope addressed to one of `keys`: its 20-byte seed and the permissions. */
async function openEnvelope(
  recipients: readonly Buffer[],
  keys: DecryptionKey[],
): Promise<{ seed: Buffer; permissions: number }> {
  const reasons: string[] = [];
  let damaged = false;
  for (const [i, envelope] of recipients.entries()) {
    let content: Buffer;
    try {
      content = (await decryptEnvelopedData(envelope, keys)).content;
    } catch (e) {
      if (e instanceof Asn1Error)
        throw new PdfEncryptionError(`/Recipients[${i}] is not a CMS EnvelopedData: ${e.message}`);
      if (!(e instanceof CmsDecryptError)) throw e;
      if (/no recipient matches/.test(e.message)) {
        reasons.push(e.message.replace(/^.*\(recipients: /, '').replace(/\)$/, ''));
        continue;
      }
      // A wrong key (RSA v1.5 implicit rejection) or a damaged envelope: keep looking, then say so.
      damaged = true;
      continue;
    }
    // Exactly a seed, or a seed and the permissions: a wrong content key passes the CBC padding check about once
    // in 256 tries and then leaves some other length, so this also tells that case apart reliably.
    if (content.length !== SEED_LENGTH && content.length !== SEED_LENGTH + 4) {
      damaged = true;
      continue;
    }
    // §7.6.5.3: 20 bytes of seed, then the permissions as a 4-byte big-endian integer (all if absent).
    const permissions = content.length >= SEED_LENGTH + 4 ? content.readInt32BE(SEED_LENGTH) : -1;
    return { seed: content.subarray(0, SEED_LENGTH), permissions };
  }
  if (damaged) throw new PdfRecipientError(PUBSEC_CANNOT_DECRYPT);
  throw new PdfRecipientError(
    `none of the given keys is a recipient of this PDF (recipients: ${reasons.join('; ').slice(0, 600)})`,
  );
}

/** Derive the document's EncryptionInfo for one of `keys`. */
export async function openPubSec(encrypt: PdfDict, keys: DecryptionKey[]): Promise<EncryptionInfo> {
  if (keys.length === 0)
    throw new PdfRecipientError(
      'the PDF is encrypted for certificates (Adobe.PubSec); give the recipient key and certificate to open it',
    );
  const layout = readLayout(encrypt);
  const { seed, permissions } = await openEnvelope(layout.recipients, keys);
  const { config } = layout;
  return {
    filter: PUBSEC_FILTER,
    subFilter: layout.subFilter,
    v: config.v,
    keyBits: config.keyBits,
    stringMethod: config.stringMethod,
    streamMethod: config.streamMethod,
    cryptFilters: config.cryptFilters,
    permissions,
    encryptMetadata: config.encryptMetadata,
    fileKey: pubSecFileKey({
      seed,
      recipients: layout.recipients,
      encryptMetadata: config.encryptMetadata,
      method: layout.method,
      keyBits: config.keyBits,
    }),
    authenticatedAs: 'recipient',
  };
}

/**
 * An OpenOptions.securityHandlers factory for /Adobe.PubSec documents, opened with any of `keys`
 * (software KeyObjects or token RecipientDecryptors with their certificates).
 */
export function pubSecSecurityHandler(keys: DecryptionKey[]): SecurityHandlerFactory {
  return (encrypt, { filter }) =>
    filter === PUBSEC_FILTER
      ? openPubSec(encrypt, keys).then((info) => new FileKeySecurityHandler(info))
      : undefined;
}

/**
 * A factory for a document whose file key is already known (the one createPubSecEncryption just made):
 * lets the writer and signer open it without being a recipient — the bank signs what it encrypted for
 * its customer.
 */
export function pubSecWithKnownKey(info: EncryptionInfo): SecurityHandlerFactory {
  return (_encrypt, { filter }) => (filter === PUBSEC_FILTER ? new FileKeySecurityHandler(info) : undefined);
}

// ---------------------------------------------------------------- writing

export interface PubSecEncryptOptions {
  /** Each recipient's certificate (RSA: PKCS#1 v1.5 key transport by default; EC: ECDH). */
  recipients: Recipient[];
  /** AES key size: 256 (/V 5, AESV3, the default) or 128 (/V 4, AESV2). */
  aes?: 256 | 128;
  /** Granted to every recipient; default all. */
  permissions?: readonly PdfPermission[];
  /** Default true; false leaves the XMP metadata stream readable (search engines, catalogues). */
  encryptMetadata?: boolean;
}

export interface PubSecEncryption {
  /** What the writer encrypts strings and streams with. */
  info: EncryptionInfo;
  /** The /Encrypt dictionary to write (never itself encrypted). */
  encryptDict: PdfDict;
}

const name = (v: string): PdfName => new PdfName(v);
const int = (v: number): PdfNumber => PdfNumber.int(v);

/** Make the seed, one envelope per recipient and the /Encrypt dictionary (§7.6.5, /SubFilter s5). */
export async function createPubSecEncryption(opts: PubSecEncryptOptions): Promise<PubSecEncryption> {
  if (opts.recipients.length === 0) throw new PdfEncryptionError('at least one recipient is needed');
  if (opts.recipients.length > MAX_RECIPIENT_STRINGS)
    throw new PdfEncryptionError(`more than ${MAX_RECIPIENT_STRINGS} recipients`);
  const aes = opts.aes ?? 256;
  if (aes !== 256 && aes !== 128)
    throw new PdfEncryptionError(`AES key size ${String(aes)} is not 128 or 256`);
  const method: CryptMethod = aes === 256 ? 'AESV3' : 'AESV2';
  const encryptMetadata = opts.encryptMetadata ?? true;
  const permissions = permissionValue(opts.permissions ?? ALL_PDF_PERMISSIONS);
  const seed = randomBytes(SEED_LENGTH);
  const content = Buffer.alloc(SEED_LENGTH + 4);
  seed.copy(content);
  content.writeInt32BE(permissions, SEED_LENGTH);
  // One envelope per recipient (RSA v1.5 by default, the CMS layer's default too; ECDH for EC keys).
  const recipients = await Promise.all(
    opts.recipients.map((r, i) =>
      encryptEnvelopedData(content, { recipients: [r], cipher: 'aes-256-cbc' }).catch((e: unknown) => {
        if (e instanceof CmsEncryptError || e instanceof Asn1Error)
          throw new PdfEncryptionError(`recipient ${i + 1}: ${e.message}`);
        throw e;
      }),
    ),
  );
  const fileKey = pubSecFileKey({ seed, recipients, encryptMetadata, method, keyBits: aes });
  const metadataEntry = (m: Map<string, PdfObject>): Map<string, PdfObject> => {
    if (!encryptMetadata) m.set('EncryptMetadata', new PdfBoolean(false));
    return m;
  };
  const cryptFilter = new PdfDict(
    metadataEntry(
      new Map<string, PdfObject>([
        ['Type', name('CryptFilter')],
        ['CFM', name(method)],
        ['Length', int(aes)],
        ['AuthEvent', name('DocOpen')],
        ['Recipients', new PdfArray(recipients.map((r) => new PdfString(r, true)))],
      ]),
    ),
  );
  const encryptDict = new PdfDict(
    metadataEntry(
      new Map<string, PdfObject>([
        ['Filter', name(PUBSEC_FILTER)],
        ['SubFilter', name('adbe.pkcs7.s5')],
        ['V', int(aes === 256 ? 5 : 4)],
        // PDFBox takes the key length from here (bits); without it, it assumes 40.
        ['Length', int(aes)],
        ['CF', new PdfDict(new Map([[CRYPT_FILTER_NAME, cryptFilter]]))],
        ['StmF', name(CRYPT_FILTER_NAME)],
        ['StrF', name(CRYPT_FILTER_NAME)],
      ]),
    ),
  );
  return {
    info: {
      filter: PUBSEC_FILTER,
      subFilter: 'adbe.pkcs7.s5',
      v: aes === 256 ? 5 : 4,
      keyBits: aes,
      stringMethod: method,
      streamMethod: method,
      cryptFilters: { Identity: 'Identity', [CRYPT_FILTER_NAME]: method },
      permissions,
      encryptMetadata,
      fileKey,
      authenticatedAs: 'recipient',
    },
    encryptDict,
  };
}
