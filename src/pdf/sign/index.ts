/**
 * PAdES signing (ETSI EN 319 142-1) on the incremental writer. Entry points:
 *   signPdf({ input, output, signer: { key, certificate, chain }, level, tsa, ltv, field, visible,
 *             certify, lock, details, hash, pss })                       → B-B … B-LTA
 *   extendPdf({ input, output, level: 'B-LT' | 'B-LTA', ltv, tsa })      → DSS (+ document timestamp)
 *   timestampPdf({ input, output, tsa })                                  → document timestamp only
 *   preparePdfSignature(…) / finishPdfSignature(prepared, { signature } | { cms })   two-phase signing
 *   signerFromPkcs12(der, password)                                       → PdfSigner + candidate roots
 */
export {
  PADES_LEVELS,
  addValidationData,
  estimateContentsSize,
  extendPdf,
  signPdf,
  timestampPdf,
} from './sign-pdf.js';
export type {
  ExtendPdfOptions,
  PadesLevel,
  PdfSigner,
  SignPdfOptions,
  SignPdfResult,
  TimestampPdfOptions,
  VisibleSignature,
} from './sign-pdf.js';
export { finishPdfSignature, preparePdfSignature } from './external.js';
export type { ExternalResult, PrepareOptions, PreparedSignature } from './external.js';
export { signerFromPkcs12 } from './credentials.js';
export type { LoadedSigner } from './credentials.js';
export type { FieldLock, Placement } from './field.js';
export type { DocMdpPermission, SignatureDetails } from './signature-dict.js';
export type { LtvOptions } from './ltv.js';
export type { TsaOptions } from './tsa.js';
export { vriKey } from './dss.js';
export { listSignatures } from './existing.js';
export type { ExistingSignature } from './existing.js';
export { PdfSignError } from './errors.js';
