import { toPem } from '../pkix/pem.js';
import type { CertificateRecord } from './ca-service.js';

/** The public shape of a certificate record, shared by the REST API and `sealpost --json`. */
export interface CertificateView {
  serial: string;
  authority: string;
  profile: string;
  subject: string;
  email: string | null;
  notBefore: string;
  notAfter: string;
  status: 'valid' | 'revoked';
  revokedAt: string | null;
  revocationReason: string | null;
  pem?: string;
}

export function certificateView(r: CertificateRecord, opts: { pem?: boolean } = {}): CertificateView {
  return {
    serial: r.serial,
    authority: r.authorityId,
    profile: r.profile,
    subject: r.subject,
    email: r.email,
    notBefore: r.notBefore,
    notAfter: r.notAfter,
    status: r.status,
    revokedAt: r.revokedAt,
    revocationReason: r.revocationReason,
    ...(opts.pem ? { pem: toPem(r.certificate, 'CERTIFICATE') } : {}),
  };
}
