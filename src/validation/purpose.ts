/**
 * Does the end-entity certificate allow what it is used for? ExtendedKeyUsage (RFC 5280 §4.2.1.12) and KeyUsage
 * (§4.2.1.3) per purpose: S/MIME per RFC 8550 §4.4, TSA per RFC 3161 §2.3, OCSP delegation per RFC 6960 §4.2.2.2,
 * document signing per RFC 9336 plus the Adobe and Microsoft OIDs that PDF readers accept.
 */
import type { ParsedCertificate } from '../pkix/certificate.js';
import { OID_EXT, OID_KP } from '../pkix/oids.js';
import type { Purpose } from './types.js';

/** Adobe Authentic Documents Trust "PDF signing" EKU. */
export const OID_ADOBE_PDF_SIGNING = '1.2.840.113583.1.1.5';

const SIGNING_KEY_USAGES = ['digitalSignature', 'nonRepudiation'];
const ENCRYPTION_KEY_USAGES = ['keyEncipherment', 'keyAgreement'];

interface UsageRule {
  /** EKUs of which one must be present; `undefined` = no EKU extension is also fine. */
  ekus: string[];
  ekuRequired: boolean;
  keyUsages: string[];
  what: string;
}

const RULES: Record<Exclude<Purpose, 'any' | 'timestamping'>, UsageRule> = {
  'smime-signing': {
    ekus: [OID_KP.emailProtection, OID_KP.anyExtendedKeyUsage],
    ekuRequired: false,
    keyUsages: SIGNING_KEY_USAGES,
    what: 'signing e-mail',
  },
  'smime-encryption': {
    ekus: [OID_KP.emailProtection, OID_KP.anyExtendedKeyUsage],
    ekuRequired: false,
    keyUsages: ENCRYPTION_KEY_USAGES,
    what: 'encrypting e-mail',
  },
  'document-signing': {
    // What Acrobat accepts for approval signatures: people sign PDFs with their S/MIME certificate
    // (emailProtection), organisations with a document-signing one; no EKU or anyEKU also pass.
    ekus: [
      OID_KP.emailProtection,
      OID_KP.documentSigning,
      OID_ADOBE_PDF_SIGNING,
      OID_KP.msDocumentSigning,
      OID_KP.anyExtendedKeyUsage,
    ],
    ekuRequired: false,
    keyUsages: SIGNING_KEY_USAGES,
    what: 'signing documents',
  },
  'ocsp-signing': {
    ekus: [OID_KP.ocspSigning],
    ekuRequired: true,
    keyUsages: SIGNING_KEY_USAGES,
    what: 'signing OCSP responses',
  },
};

const EKU_NAMES = new Map<string, string>([
  ...Object.entries(OID_KP).map(([name, oid]) => [oid, name] as [string, string]),
  [OID_ADOBE_PDF_SIGNING, 'adobePdfSigning'],
]);
const ekuList = (oids: readonly string[]): string => oids.map((o) => EKU_NAMES.get(o) ?? o).join(', ');

export interface UsageFinding {
  ok: boolean;
  detail: string;
}

export function checkPurpose(leaf: ParsedCertificate, purpose: Purpose): UsageFinding {
  if (purpose === 'any') return { ok: true, detail: 'no particular usage required' };
  if (purpose === 'timestamping') return checkTimestamping(leaf);
  const rule = RULES[purpose];
  const ekus = leaf.extKeyUsage;
  if (ekus.length > 0 || rule.ekuRequired) {
    if (!ekus.some((e) => rule.ekus.includes(e))) {
      return {
        ok: false,
        detail: `the certificate is not for ${rule.what}: its extended key usage is ${ekus.length ? ekuList(ekus) : 'absent'}, and ${ekuList(rule.ekus.filter((e) => e !== OID_KP.anyExtendedKeyUsage))} is needed`,
      };
    }
  }
  return keyUsageFinding(leaf, rule.keyUsages, rule.what);
}

function keyUsageFinding(leaf: ParsedCertificate, allowed: string[], what: string): UsageFinding {
  if (leaf.keyUsage.length > 0 && !leaf.keyUsage.some((u) => allowed.includes(u))) {
    return {
      ok: false,
      detail: `the certificate's key usage (${leaf.keyUsage.join(', ')}) does not allow ${what}: it needs ${allowed.join(' or ')}`,
    };
  }
  const eku = leaf.extKeyUsage.length
    ? `extended key usage ${ekuList(leaf.extKeyUsage)}`
    : 'no extended key usage';
  const ku = leaf.keyUsage.length ? `key usage ${leaf.keyUsage.join(', ')}` : 'no key usage';
  return { ok: true, detail: `allowed for ${what} (${eku}; ${ku})` };
}

/** RFC 3161 §2.3: exactly one EKU, id-kp-timeStamping, in an extension marked critical. */
function checkTimestamping(leaf: ParsedCertificate): UsageFinding {
  const ext = leaf.cert.tbsCertificate.extensions?.find((e) => e.extnID === OID_EXT.extKeyUsage);
  const ekus = leaf.extKeyUsage;
  if (!ext || !ekus.includes(OID_KP.timeStamping)) {
    return {
      ok: false,
      detail: `the certificate is not a TSA certificate: its extended key usage is ${ekus.length ? ekuList(ekus) : 'absent'}, timeStamping is needed`,
    };
  }
  if (ekus.length !== 1) {
    return {
      ok: false,
      detail: `a TSA certificate must have timeStamping as its only extended key usage (RFC 3161 §2.3); this one also has ${ekuList(ekus.filter((e) => e !== OID_KP.timeStamping))}`,
    };
  }
  if (!ext.critical) {
    return {
      ok: false,
      detail: "the TSA certificate's extended key usage is not marked critical (RFC 3161 §2.3)",
    };
  }
  return keyUsageFinding(leaf, SIGNING_KEY_USAGES, 'timestamping');
}
