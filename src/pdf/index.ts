/**
 * Sealpost PDF reader (ISO 32000-2). Entry points and the contract the incremental writer, the signer,
 * the validator and the public-key security handler build on.
 *
 * Opening
 *   const doc = await PdfDocument.openFile(path, { password?, recover?, limits?, securityHandlers? });
 *   const doc = await PdfDocument.open(new BufferSource(bytes), opts);      // any ByteSource
 *   …; await doc.close();
 * Only the tail (startxref), the xref sections and the objects asked for are read: a 1 GB file costs a
 * few blocks of memory (FileSource: positioned reads through a 64 KiB × 32 LRU block cache).
 *
 * Revisions (incremental updates, §7.5.6)
 *   doc.revisions[i]: { index, sections (XrefSection[]), trailer, startxref, endOffset }
 *     revisions[0] is the original file, the last one is current. endOffset is just past that
 *     revision's "%%EOF" + EOL: the bytes [0, endOffset) are the document as of that revision. A
 *     linearized file's first-page and main xref sections form one revision. Each XrefSection has
 *     kind 'table' | 'stream' | 'recovered', its offset and end, its entries (free / offset / compressed),
 *     its trailer (or xref-stream dictionary), /Prev, and for hybrid files the /XRefStm section.
 *   doc.latest / doc.atRevision(i) → PdfRevisionView, the object view as of that revision:
 *     entry(num), objectNumbers(), getIndirect(ref|num) → { ref, value, location, range },
 *     getObject(ref), resolve(obj), resolveDict/resolveArray/resolveNumbers, resolveDeep(obj, depth),
 *     catalog(), pages() → PdfPage[] (inherited /Resources /MediaBox /CropBox /Rotate, content streams),
 *     pageContent(page), fields() → PdfField[] (fully qualified names, inherited /FT /V /Ff, widgets with
 *     /P and /Rect). PdfDocument forwards the common ones to `latest`.
 *   The writer appends after revisions.at(-1).endOffset (or source.size), matches the last section's
 *   kind (table vs stream), and sets /Prev to revisions.at(-1).startxref.
 *
 * Objects (objects.ts): PdfNull, PdfBoolean, PdfNumber (value, isInteger, original text), PdfString
 *   (bytes, isHex), PdfName, PdfArray, PdfDict (Map in file order), PdfStream (dict + where its data is;
 *   `owner` = the holding object), PdfRef. Every object read from the file has `range` {start, end}
 *   (end exclusive); objects from object streams have none. A /Sig dictionary's /Contents string keeps
 *   its range, which is what the validator checks /ByteRange against.
 *
 * Streams are read lazily: doc.streamRaw(stream) (decrypted, still encoded), doc.decodeStream(stream)
 *   → { data, undecoded } (stops at DCT/JPX/CCITT/JBIG2), doc.streamData(stream). Decoding is bounded by
 *   limits.maxDecodedStreamBytes and maxDecompressionRatio.
 *
 * Encryption (§7.6): the standard handler (R 2–6: RC4, AESV2, AESV3) is built in; other /Filter values
 *   go through OpenOptions.securityHandlers factories (issue 5: Adobe.PubSec — derive the file key from
 *   the recipient, then return `new FileKeySecurityHandler(info)`). doc.encryption is the EncryptionInfo
 *   (filter, v, r, keyBits, string/stream methods, crypt filters, permissions, encryptMetadata, fileKey,
 *   authenticatedAs); doc.securityHandler encrypts new strings/streams for the writer with
 *   encryptString/encryptStream(objNum, gen, bytes). Strings are decrypted when an object is loaded,
 *   except the /Encrypt dictionary, xref streams, objects inside object streams (the stream is decrypted
 *   as a whole) and /Contents of signature dictionaries (dicts with /ByteRange and /Contents).
 *
 * Errors: every bad input gives a PdfError subclass (errors.ts); a wrong password PdfPasswordError.
 *   { recover: true } rebuilds a broken xref by scanning ("n g obj"); doc.recovered says it happened.
 *   Never use it for signature validation.
 */
export { PdfDocument, PdfRevisionView } from './document.js';
export type {
  OpenOptions,
  PdfField,
  PdfPage,
  PdfWidget,
  Revision,
  SecurityHandlerFactory,
} from './document.js';
export { BufferSource, FileSource } from './source.js';
export type { ByteSource } from './source.js';
export {
  PdfArray,
  PdfBoolean,
  PdfDict,
  PdfName,
  PdfNull,
  PdfNumber,
  PdfRef,
  PdfStream,
  PdfString,
} from './objects.js';
export type { ByteRange, IndirectObject, ObjectLocation, PdfObject, StreamData } from './objects.js';
export type { XrefEntry, XrefSection } from './xref.js';
export { decodeFilters } from './filters.js';
export type { DecodeResult, FilterSpec } from './filters.js';
export { DEFAULT_PDF_LIMITS } from './limits.js';
export type { PdfLimits } from './limits.js';
export { FileKeySecurityHandler, aesCbc, readCryptConfig } from './crypt/security-handler.js';
export type { CryptConfig, CryptMethod, EncryptionInfo, SecurityHandler } from './crypt/security-handler.js';
export { openStandardSecurityHandler } from './crypt/standard-handler.js';
export {
  PdfEncryptionError,
  PdfError,
  PdfFilterError,
  PdfLimitError,
  PdfLoopError,
  PdfPasswordError,
  PdfSyntaxError,
  PdfUnsupportedError,
  PdfXrefError,
} from './errors.js';
