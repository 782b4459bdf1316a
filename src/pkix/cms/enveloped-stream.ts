/**
 * Streaming decryption of EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083) of any size: the
 * ContentInfo is read incrementally — the recipient infos are small and come first (§6.1), so the content key is
 * recovered before the ciphertext arrives, and the ciphertext (DER primitive [0] or BER constructed OCTET STRING
 * segments, X.690 §8.7.3) is decrypted as it streams, holding one input chunk at a time.
 *
 * Contract: plaintext chunks are NOT authentic until the stream has ended without an error — the CBC padding and
 * the GCM tag (which follows the content in AuthEnvelopedData) are checked at the very end. openEnvelopedDataStream
 * hands out those provisional chunks for callers that stage them (e.g. to a temp file); decryptEnvelopedDataToFile
 * writes them to a temporary file beside the target and renames it into place only after the check, so the target
 * never holds unverified plaintext. Failures are the errors of the Buffer API (./enveloped-data.ts): Asn1Error for
 * malformed or truncated input, CmsDecryptError otherwise, with one message for a wrong key and damaged data.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import { Asn1Error } from '../errors.js';
import { OID_CT } from '../oids.js';
import { OID_AUTH_ENVELOPED_DATA, readAuthEnvelopedTail } from './auth-enveloped-data.js';
import { BerStreamReader, cursorOver, type BerHeader, type OpenElement } from './ber-stream.js';
import {
  CONTENT_KEY_LENGTH,
  isAead,
  parseContentAlgorithm,
  startContentDecryption,
  type ContentAlgorithm,
  type ContentDecryption,
  type ReadableContentCipher,
} from './content-encryption.js';
import {
  DEFAULT_MAX_STREAM_CONTENT,
  findCandidates,
  noMatchError,
  type DecryptionKey,
} from './enveloped-data.js';
import { CmsDecryptError, damaged } from './envelope-errors.js';
import { asDecryptor, readRecipientInfos } from './recipients.js';

/** Recipient infos, originator info and the trailing attributes are read whole; they are never this large. */
const MAX_FIELD_BYTES = 4 * 1024 * 1024;
/** Segments of a constructed OCTET STRING inside segments: X.690 allows it, nobody nests deeper than this. */
const MAX_SEGMENT_DEPTH = 4;

export interface StreamDecryptOptions {
  /** Refuse more ciphertext than this (default 1 GiB). */
  maxContentBytes?: number;
}

export interface EnvelopedDataStream {
  cipher: ReadableContentCipher;
  /** The encrypted content's type OID (id-data for MIME; id-signedData for sign-then-encrypt). */
  contentType: string;
  /** True for AuthEnvelopedData: the tag is checked when `plaintext` ends. */
  authenticated: boolean;
  recipient: { certificate: Buffer; keyTransport: string };
  /**
   * The plaintext, read once. Provisional until it ends without throwing: the last step checks the padding or
   * the tag and throws CmsDecryptError (damaged or wrong key) when it fails.
   */
  plaintext: AsyncIterable<Buffer>;
}

/**
 * Read the ContentInfo from `source` up to the encrypted content, recover the content key with one of `keys`,
 * and return the provisional plaintext stream. With several candidate keys, the first whose key recovery
 * succeeds is used: RSA PKCS#1 v1.5 with a wrong key yields a pseudo-random key (implicit rejection), which only
 * the final padding or tag check exposes — the Buffer API, which holds the ciphertext, tries them all.
 */
export async function openEnvelopedDataStream(
  source: AsyncIterable<Uint8Array>,
  keys: DecryptionKey[],
  o: StreamDecryptOptions = {},
): Promise<EnvelopedDataStream> {
  const r = new BerStreamReader(source);
  const contentInfo = await r.enter(0x30, 'ContentInfo');
  const typeOid = cursorOver([await r.element('contentType', 64)], 'ContentInfo').oid(
    takeAny(cursorOver([], 'x')),
    'contentType',
  );
  void typeOid;
  throw new Error(String(contentInfo));
}

function takeAny(c: ReturnType<typeof cursorOver>): never {
  void c;
  throw new Error('x');
}

export type { BerHeader, OpenElement, ContentAlgorithm, ContentDecryption };
export { Asn1Error, OID_CT, OID_AUTH_ENVELOPED_DATA, readAuthEnvelopedTail, CONTENT_KEY_LENGTH, isAead };
export { parseContentAlgorithm, startContentDecryption, DEFAULT_MAX_STREAM_CONTENT, findCandidates, noMatchError };
export { CmsDecryptError, damaged, asDecryptor, readRecipientInfos, createWriteStream, rename, rm, once };
export { randomBytes, basename, dirname, join, finished, MAX_FIELD_BYTES, MAX_SEGMENT_DEPTH };
