/** Signing cannot go on; the message says what is wrong and what to do. */
export class PdfSignError extends Error {
  override name = 'PdfSignError';
}
