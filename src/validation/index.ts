/** The validation layer: certificate paths, revocation and timestamp checks shared by S/MIME and PDF. */
export type {
  Check,
  Purpose,
  RevocationEntry,
  RevocationPolicy,
  ValidationData,
  ValidationOptions,
  ValidationResult,
  Verdict,
} from './types.js';
export { validateCertificate } from './validate-certificate.js';
export {
  validateTimestampToken,
  type TimestampValidationParams,
  type TimestampValidationResult,
} from './validate-timestamp.js';
export { RevocationCache } from './revocation-cache.js';
export { DEFAULT_REVOCATION_POLICY } from './revocation.js';
export { certificateAddresses } from './email.js';
