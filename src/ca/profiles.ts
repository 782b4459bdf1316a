/**
 * Certificate profiles: the extensions and validity of every certificate type Sealpost issues. Pure functions,
 * no I/O. End-entity S/MIME rules follow the CA/B Forum S/MIME Baseline Requirements §7.1.2.3; CA rules RFC 5280.
 */
import type { Extension } from '@peculiar/asn1-x509';
import type { KeyAlgorithm } from '../crypto/key-handle.js';
import { isEc, isRsa } from '../crypto/key-handle.js';
import { ProfileError } from '../pkix/errors.js';
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  certificatePolicies,
  crlDistributionPoints,
  extKeyUsage,
  isAsciiMailbox,
  keyUsage,
  ocspNoCheck,
  subjectAltNameEmails,
  subjectKeyIdentifier,
  type KeyUsageName,
} from '../pkix/extensions.js';
import { OID_KP, OID_POLICY } from '../pkix/oids.js';

export type ProfileName =
  | 'root-ca'
  | 'issuing-ca'
  | 'smime-signing'
  | 'smime-encryption'
  | 'smime-multipurpose'
  | 'seal'
  | 'tsa'
  | 'ocsp';
/** CA/B Forum S/MIME BR certificate types: mailbox-validated or sponsor-validated (§7.1.6.1). */
export type ValidationModel = 'mailbox' | 'sponsor';
export type Generation = 'strict' | 'multipurpose';

export interface ProfileInput {
  profile: ProfileName;
  subjectSpki: Buffer;
  subjectKeyAlgorithm: KeyAlgorithm;
  /** The issuer's subjectKeyIdentifier; absent only for a root. */
  issuerSki?: Buffer;
  emails?: string[];
  validation?: ValidationModel;
  generation?: Generation;
  ocspUrl?: string;
  caIssuersUrl?: string;
  crlUrl?: string;
  validityDays?: number;
  now?: Date;
}

export interface ProfileOutput {
  extensions: Extension[];
  notBefore: Date;
  notAfter: Date;
}

/** S/MIME BR §6.3.2: subscriber certificates at most 825 days. Applied to every end-entity profile. */
export const MAX_END_ENTITY_DAYS = 825;
const DEFAULT_DAYS: Record<ProfileName, number> = {
  'root-ca': 20 * 365 + 5,
  'issuing-ca': 10 * 365 + 2,
  'smime-signing': 365,
  'smime-encryption': 365,
  'smime-multipurpose': 365,
  seal: 365,
  tsa: 365,
  ocsp: 365,
};
const MAX_CA_DAYS = 30 * 366;
/** Backdate notBefore a little so relying parties with a slightly slow clock accept a fresh certificate. */
const BACKDATE_MS = 60_000;
const DAY_MS = 86_400_000;

/** S/MIME BR §7.1.6.1 policy OIDs: 2.23.140.1.5.{1 mailbox, 3 sponsor}.{2 multipurpose, 3 strict}. */
const SMIME_POLICY: Record<ValidationModel, Record<Generation, string>> = {
  mailbox: { strict: OID_POLICY.smimeMailboxStrict, multipurpose: OID_POLICY.smimeMailboxMultipurpose },
  sponsor: { strict: OID_POLICY.smimeSponsorStrict, multipurpose: OID_POLICY.smimeSponsorMultipurpose },
};

const isCaProfile = (p: ProfileName): boolean => p === 'root-ca' || p === 'issuing-ca';
const isSmime = (p: ProfileName): boolean => p.startsWith('smime-');

/** Key usage bits for the profile and key type (S/MIME BR §7.1.2.3 (e), RFC 3161 §2.3, RFC 6960 §4.2.2.2). */
function keyUsageFor(profile: ProfileName, key: KeyAlgorithm): KeyUsageName[] {
  const keyManagement = (): KeyUsageName => {
    if (isRsa(key)) return 'keyEncipherment';
    if (isEc(key)) return 'keyAgreement';
    throw new ProfileError(
      `profile ${profile} needs a key that can encrypt or agree keys; ${key} can only sign`,
    );
  };
  switch (profile) {
    case 'root-ca':
    case 'issuing-ca':
      return ['keyCertSign', 'cRLSign'];
    case 'smime-signing':
    case 'seal':
      return ['digitalSignature', 'nonRepudiation'];
    case 'smime-encryption':
      return [keyManagement()];
    case 'smime-multipurpose':
      return ['digitalSignature', 'nonRepudiation', keyManagement()];
    case 'tsa':
    case 'ocsp':
      return ['digitalSignature'];
  }
}

function validity(p: ProfileInput): { notBefore: Date; notAfter: Date } {
  const days = p.validityDays ?? DEFAULT_DAYS[p.profile];
  const max = isCaProfile(p.profile) ? MAX_CA_DAYS : MAX_END_ENTITY_DAYS;
  if (!Number.isInteger(days) || days < 1 || days > max) {
    throw new ProfileError(`validity of ${days} days is not allowed for ${p.profile}; use 1 to ${max} days`);
  }
  const notBefore = new Date(Math.floor(((p.now ?? new Date()).getTime() - BACKDATE_MS) / 1000) * 1000);
  // The BR count the validity period inclusively (notBefore to notAfter), hence the one second less.
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS - 1000);
  return { notBefore, notAfter };
}

function checkEmails(p: ProfileInput): string[] {
  const emails = p.emails ?? [];
  if (isSmime(p.profile) && emails.length === 0) {
    throw new ProfileError(
      `profile ${p.profile} needs at least one email address for subjectAltName (S/MIME BR §7.1.2.3 (h))`,
    );
  }
  for (const email of emails) {
    if (!isAsciiMailbox(email)) throw new ProfileError(`"${email}" is not a valid ASCII email address`);
  }
  return emails;
}

/** Extended key usages per profile. TSA: timeStamping only and critical (RFC 3161 §2.3). */
function extKeyUsageFor(profile: ProfileName): Extension | undefined {
  switch (profile) {
    case 'root-ca':
    case 'issuing-ca':
      // No EKU on CAs: an issuing CA that also certifies TSA, OCSP and seal keys would otherwise break
      // EKU chaining in Windows/Adobe. (S/MIME BR §7.1.2.2 wants emailProtection only for S/MIME-dedicated CAs.)
      return undefined;
    case 'smime-signing':
    case 'smime-encryption':
    case 'smime-multipurpose':
      return extKeyUsage([OID_KP.emailProtection]);
    case 'seal':
      return extKeyUsage([OID_KP.documentSigning, OID_KP.msDocumentSigning]);
    case 'tsa':
      return extKeyUsage([OID_KP.timeStamping], true);
    case 'ocsp':
      return extKeyUsage([OID_KP.ocspSigning]);
  }
}

/**
 * Extensions and validity for a certificate of `p.profile`. Throws ProfileError for combinations the rules
 * forbid: encryption with an Ed25519 key, S/MIME without an email, an end-entity validity over 825 days, a
 * non-root without the issuer's key identifier.
 */
export function buildProfile(p: ProfileInput): ProfileOutput {
  const isRoot = p.profile === 'root-ca';
  if (!isRoot && !p.issuerSki)
    throw new ProfileError(`profile ${p.profile} needs the issuer's subjectKeyIdentifier`);
  const { notBefore, notAfter } = validity(p);
  const emails = checkEmails(p);

  const extensions: Extension[] = [
    basicConstraints(isCaProfile(p.profile), p.profile === 'issuing-ca' ? 0 : undefined),
    keyUsage(keyUsageFor(p.profile, p.subjectKeyAlgorithm)),
  ];
  const eku = extKeyUsageFor(p.profile);
  if (eku) extensions.push(eku);
  if (emails.length > 0) extensions.push(subjectAltNameEmails(emails));
  if (isSmime(p.profile)) {
    const policy = SMIME_POLICY[p.validation ?? 'mailbox'][p.generation ?? 'strict'];
    extensions.push(certificatePolicies([policy]));
  }
  extensions.push(subjectKeyIdentifier(p.subjectSpki));
  if (!isRoot) {
    extensions.push(authorityKeyIdentifier(p.issuerSki as Buffer));
    // An OCSP signer's own status is not checked by OCSP (RFC 6960 §4.2.2.2.1), so it carries no OCSP URL.
    const ocspUrls = p.ocspUrl && p.profile !== 'ocsp' ? [p.ocspUrl] : [];
    const caIssuersUrls = p.caIssuersUrl ? [p.caIssuersUrl] : [];
    if (ocspUrls.length + caIssuersUrls.length > 0)
      extensions.push(authorityInfoAccess(ocspUrls, caIssuersUrls));
    if (p.crlUrl) extensions.push(crlDistributionPoints([p.crlUrl]));
  }
  if (p.profile === 'ocsp') extensions.push(ocspNoCheck());
  return { extensions, notBefore, notAfter };
}
