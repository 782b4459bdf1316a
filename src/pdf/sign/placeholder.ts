/**
 * The /ByteRange and /Contents placeholders of a signature dictionary (ISO 32000-2 §12.8.1). /Contents
 * is a hex string of zeros sized for the CMS (plus timestamp token and margin); /ByteRange is written
 * with fixed-width fields so that the real numbers fit in place without moving a single byte.
 */
import type { ByteRange } from '../objects.js';
import { PdfRaw } from '../writer/serialize.js';
import { PdfSignError } from './errors.js';

const FIELD_WIDTH = 10; // up to 9,999,999,999 bytes
const BYTE_RANGE_TEMPLATE = `[0 ${'9'.repeat(FIELD_WIDTH)} ${'9'.repeat(FIELD_WIDTH)} ${'9'.repeat(FIELD_WIDTH)}]`;

export function byteRangePlaceholder(): PdfRaw {
  return PdfRaw.text(BYTE_RANGE_TEMPLATE);
}

/** `<00…00>` holding `bytes` bytes once hex-encoded. */
export function contentsPlaceholder(bytes: number): PdfRaw {
  return PdfRaw.text(`<${'0'.repeat(bytes * 2)}>`);
}

/** Where the placeholders ended up inside one serialised signature dictionary. */
export interface PlaceholderPositions {
  /** The whole `<…>` of /Contents, relative to the searched buffer. */
  contents: ByteRange;
  /** The `[…]` of /ByteRange. */
  byteRange: ByteRange;
}

/** Find both placeholders in `objectBytes` (one serialised signature dictionary). */
export function locatePlaceholders(objectBytes: Buffer, contentsBytes: number): PlaceholderPositions {
  const br = objectBytes.indexOf(BYTE_RANGE_TEMPLATE, 0, 'latin1');
  const hex = `<${'0'.repeat(contentsBytes * 2)}>`;
  const ct = objectBytes.indexOf(hex, 0, 'latin1');
  if (br < 0 || ct < 0) throw new PdfSignError('signature placeholders not found in the written dictionary');
  return {
    contents: { start: ct, end: ct + hex.length },
    byteRange: { start: br, end: br + BYTE_RANGE_TEMPLATE.length },
  };
}

/** The /ByteRange text for a /Contents at [contentsStart, contentsEnd) of a file of `fileSize` bytes, padded to the placeholder's width. */
export function byteRangeText(contentsStart: number, contentsEnd: number, fileSize: number): Buffer {
  const numbers = [0, contentsStart, contentsEnd, fileSize - contentsEnd];
  if (numbers.some((n) => String(n).length > FIELD_WIDTH))
    throw new PdfSignError(`the file is too large for a ${FIELD_WIDTH}-digit /ByteRange`);
  const text = `[${numbers.join(' ')}]`;
  return Buffer.from(text.padEnd(BYTE_RANGE_TEMPLATE.length, ' '), 'latin1').subarray(
    0,
    BYTE_RANGE_TEMPLATE.length,
  );
}

/** The hex for /Contents: the CMS followed by zeros up to the reserved size. */
export function contentsHex(cms: Buffer, reservedBytes: number): Buffer {
  if (cms.length > reservedBytes)
    throw new PdfSignError(
      `the signature (${cms.length} bytes) does not fit the ${reservedBytes} bytes reserved for /Contents: sign again with a larger reserve (contentsSize)`,
    );
  const hex = Buffer.alloc(reservedBytes * 2 + 2, 0x30);
  hex[0] = 0x3c; // <
  hex.write(cms.toString('hex').toUpperCase(), 1, 'latin1');
  hex[hex.length - 1] = 0x3e; // >
  return hex;
}
