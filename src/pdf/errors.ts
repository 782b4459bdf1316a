/**
 * Errors raised by the PDF reader. Every failure on bad input is a `PdfError` subclass with a one-line
 * message that says what is wrong and, where it helps, what to do; nothing else escapes the reader.
 */
export class PdfError extends Error {
  override name = 'PdfError';
}

/** A token or object that does not follow the syntax of ISO 32000-2 §7.2–7.3, with the byte offset. */
export class PdfSyntaxError extends PdfError {
  override name = 'PdfSyntaxError';
}

/** The cross-reference data (startxref, xref table, xref stream, /Prev chain) is missing or inconsistent. */
export class PdfXrefError extends PdfError {
  override name = 'PdfXrefError';
}

/** A configured bound was hit: nesting, sizes, counts, decompression ratio. See `PdfLimits`. */
export class PdfLimitError extends PdfError {
  override name = 'PdfLimitError';
}

/** A reference cycle: an object that needs itself to be read (/Prev loops, self-referencing /Length…). */
export class PdfLoopError extends PdfError {
  override name = 'PdfLoopError';
}

/** A stream filter failed on its data (corrupt zlib data, bad ASCII85…). */
export class PdfFilterError extends PdfError {
  override name = 'PdfFilterError';
}

/** A feature the reader does not implement (an unknown filter or security handler). */
export class PdfUnsupportedError extends PdfError {
  override name = 'PdfUnsupportedError';
}

/** The /Encrypt dictionary is malformed or its integrity checks fail. */
export class PdfEncryptionError extends PdfError {
  override name = 'PdfEncryptionError';
}

/**
 * The password does not open the document (neither as user nor as owner password). The same message is
 * given for every wrong password.
 */
export class PdfPasswordError extends PdfEncryptionError {
  override name = 'PdfPasswordError';
}
