/** The incremental writer cannot produce the update; the message says why and what to do. */
export class PdfWriteError extends Error {
  override name = 'PdfWriteError';
}
