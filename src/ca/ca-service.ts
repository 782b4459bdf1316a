import type { Name } from '@peculiar/asn1-x509';
import type { KeyAlgorithm } from '../crypto/key-handle.js';
import { defaultHashFor } from '../crypto/key-handle.js';
import { SoftwareKey } from '../crypto/software-key.js';
import {
  isIssuedBy,
  signCertificate,
  parseCertificate,
  randomSerial,
  type ParsedCertificate,
} from '../pkix/certificate.js';
import { buildName, nameAttribute, nameToString, type NameSpec } from '../pkix/name.js';
import { OID_AT } from '../pkix/oids.js';
import { parseCsr } from '../pkix/csr.js';
import { signCrl, type RevocationReason } from '../pkix/crl.js';
import { toPem } from '../pkix/pem.js';
import { buildProfile, type ProfileName, type ValidationModel } from './profiles.js';
import type { Store } from '../store/database.js';
import { inTransaction } from '../store/database.js';
import { nextCounter } from '../store/counters.js';
import { nowIso } from '../store/time.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { KeyBackend, KeyService, ManagedKey } from '../keys/key-service.js';
import type { PkiUrls } from './urls.js';

export const ROOT_ID = 'root';
export const ISSUING_ID = 'issuing';

export type UserUsage = 'signing' | 'encryption' | 'both' | 'multipurpose';

export const REVOCATION_REASONS: readonly RevocationReason[] = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
];

export class CaError extends Error {
  constructor(
    message: string,
    /** HTTP-ish classification so the API can answer 400/404/409 without string matching. */
    readonly kind: 'invalid' | 'not-found' | 'conflict' | 'not-initialised' = 'invalid',
  ) {
    super(message);
  }
}

export interface AuthorityInfo {
  id: string;
  certificate: ParsedCertificate;
  key?: ManagedKey;
}

export interface Authority extends AuthorityInfo {
  key: ManagedKey;
}

/** What issuance knows about a certificate it just signed, without parsing it back (hot path). */
export type SignedCertificate = Pick<
  ParsedCertificate,
  'der' | 'serialHex' | 'subjectString' | 'emails' | 'notBefore' | 'notAfter'
>;

export interface IssuedCertificate {
  serial: string;
  profile: ProfileName;
  certificate: SignedCertificate;
  /** Set when the server generated the key pair (returned to the caller for PKCS#12 packaging). */
  generatedKey?: SoftwareKey;
  /** Set when the key is kept by Sealpost (escrowed encryption keys, service keys). */
  keyId?: string;
}

export interface CertificateRecord {
  serial: string;
  authorityId: string;
  profile: string;
  subject: string;
  email: string | null;
  notBefore: string;
  notAfter: string;
  status: 'valid' | 'revoked';
  revokedAt: string | null;
  revocationReason: RevocationReason | null;
  keyId: string | null;
  certificate: Buffer;
}

export type CertificateStatus =
  | { status: 'good' }
  | { status: 'revoked'; revokedAt: Date; reason?: RevocationReason }
  | { status: 'unknown' };

export interface InitOptions {
  orgName: string;
  country?: string;
  caKeyAlgorithm: KeyAlgorithm;
  serviceKeyAlgorithm: KeyAlgorithm;
  tsaKeyAlgorithm: KeyAlgorithm;
  backend: KeyBackend;
  actor: string;
}

/**
 * The certificate authority: a root, one issuing CA under it, and every certificate the issuing CA
 * signs. Owns the `authorities`, `certificates`, `crls` and `revocation_events` tables.
 */
export class CaService {
  private authorities = new Map<string, AuthorityInfo>();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly keys: KeyService,
    private readonly urls: PkiUrls,
  ) {}

  async isInitialised(): Promise<boolean> {
    const row = await this.store.db
      .selectFrom('authorities')
      .select('id')
      .where('id', '=', ISSUING_ID)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Create root and issuing CA plus the OCSP-signer, TSA and organisation seal certificates.
   * Idempotent: an installation that already has an issuing CA is left untouched.
   */
  async initialise(o: InitOptions): Promise<{ created: boolean }> {
    if (await this.isInitialised()) return { created: false };
    const org: NameSpec = { organization: o.orgName, ...(o.country ? { country: o.country } : {}) };
    const rootKey = await this.keys.create({
      label: 'root-ca',
      algorithm: o.caKeyAlgorithm,
      purpose: 'root-ca',
      backend: o.backend,
      actor: o.actor,
    });
    const rootSubject = buildName({ ...org, commonName: `${o.orgName} Root CA` });
    const rootProfile = buildProfile({
      profile: 'root-ca',
      subjectSpki: rootKey.handle.spki,
      subjectKeyAlgorithm: rootKey.algorithm,
    });
    const rootDer = await signCertificate(
      {
        serial: randomSerial(),
        issuer: rootSubject,
        subject: rootSubject,
        spki: rootKey.handle.spki,
        ...rootProfile,
      },
      rootKey.handle,
      defaultHashFor(rootKey.algorithm),
    );
    const root = parseCertificate(rootDer);
    await this.insertAuthority(ROOT_ID, 'root', null, root, rootKey.id, o.actor);
    this.authorities.set(ROOT_ID, { id: ROOT_ID, certificate: root, key: rootKey });

    const issuingKey = await this.keys.create({
      label: 'issuing-ca',
      algorithm: o.caKeyAlgorithm,
      purpose: 'issuing-ca',
      backend: o.backend,
      actor: o.actor,
    });
    const issuingDer = await this.signUnder(ROOT_ID, {
      profile: 'issuing-ca',
      subject: buildName({ ...org, commonName: `${o.orgName} Issuing CA` }),
      spki: issuingKey.handle.spki,
      keyAlgorithm: issuingKey.algorithm,
    });
    const issuing = parseCertificate(issuingDer.der);
    await this.insertAuthority(ISSUING_ID, 'issuing', ROOT_ID, issuing, issuingKey.id, o.actor);
    this.authorities.set(ISSUING_ID, { id: ISSUING_ID, certificate: issuing, key: issuingKey });
    // The issuing CA's own certificate is also a certificate the root issued: record it so the root's
    // CRL and OCSP can answer for it.
    await this.recordCertificate(ROOT_ID, 'issuing-ca', issuing, issuingKey.id, null, o.actor);

    await this.issueServiceCertificates(o, org);
    await this.audit.append({
      actor: o.actor,
      action: 'ca.init',
      target: ISSUING_ID,
      details: { org: o.orgName, caKeyAlgorithm: o.caKeyAlgorithm, backend: o.backend },
    });
    return { created: true };
  }

  /**
   * Take over an existing issuing CA (certificate + private key, e.g. from the bank's current PKI) under
   * its root, whose private key stays where it is: Sealpost then issues, publishes the issuing CA's CRL
   * and answers OCSP for it, but not for the root. Idempotent like `initialise`.
   */
  async importIssuingCa(o: {
    issuingCertificate: Buffer;
    issuingKey: SoftwareKey;
    rootCertificate: Buffer;
    orgName: string;
    serviceKeyAlgorithm: KeyAlgorithm;
    tsaKeyAlgorithm: KeyAlgorithm;
    backend: KeyBackend;
    actor: string;
  }): Promise<{ created: boolean }> {
    if (await this.isInitialised()) return { created: false };
    const root = parseCertificate(o.rootCertificate);
    const issuing = parseCertificate(o.issuingCertificate);
    if (!root.isCa || !isIssuedBy(root, root)) {
      throw new CaError(
        `${root.subjectString} is not a self-signed CA certificate: give the root of the imported CA`,
      );
    }
    if (!issuing.isCa || !issuing.keyUsage.includes('keyCertSign')) {
      throw new CaError(
        `${issuing.subjectString} is not a CA certificate allowed to sign certificates (keyCertSign)`,
      );
    }
    if (!isIssuedBy(issuing, root)) {
      throw new CaError(`${issuing.subjectString} was not issued by ${root.subjectString}`);
    }
    if (!o.issuingKey.spki.equals(issuing.spki)) {
      throw new CaError('the private key does not belong to the issuing CA certificate');
    }
    if (issuing.notAfter.getTime() <= Date.now())
      throw new CaError(`${issuing.subjectString} expired on ${issuing.notAfter.toISOString()}`);
    const key = await this.keys.importSoftwareKey({
      key: o.issuingKey,
      label: 'issuing-ca (imported)',
      purpose: 'issuing-ca',
      actor: o.actor,
    });
    await this.insertAuthority(ROOT_ID, 'root', null, root, null, o.actor);
    this.authorities.set(ROOT_ID, { id: ROOT_ID, certificate: root });
    await this.insertAuthority(ISSUING_ID, 'issuing', ROOT_ID, issuing, key.id, o.actor);
    this.authorities.set(ISSUING_ID, { id: ISSUING_ID, certificate: issuing, key });
    const org: NameSpec = { organization: o.orgName };
    await this.issueServiceCertificates({ ...o, caKeyAlgorithm: key.algorithm }, org);
    await this.audit.append({
      actor: o.actor,
      action: 'ca.import',
      target: ISSUING_ID,
      details: { issuing: issuing.subjectString, root: root.subjectString, serial: issuing.serialHex },
    });
    return { created: true };
  }

  private async issueServiceCertificates(o: InitOptions, org: NameSpec): Promise<void> {
    const common = { org, backend: o.backend, actor: o.actor };
    await this.issueServiceCertificate({
      ...common,
      profile: 'ocsp',
      commonName: `${o.orgName} OCSP Responder`,
      keyAlgorithm: o.serviceKeyAlgorithm,
    });
    await this.issueServiceCertificate({
      ...common,
      profile: 'tsa',
      commonName: `${o.orgName} Time Stamping Authority`,
      keyAlgorithm: o.tsaKeyAlgorithm,
    });
    await this.issueServiceCertificate({
      ...common,
      profile: 'seal',
      commonName: `${o.orgName} Document Seal`,
      keyAlgorithm: o.serviceKeyAlgorithm,
    });
  }

  /** A certificate for one of Sealpost's own services; the key stays in the key store. */
  async issueServiceCertificate(p: {
    profile: 'ocsp' | 'tsa' | 'seal';
    commonName: string;
    org: NameSpec;
    keyAlgorithm: KeyAlgorithm;
    backend: KeyBackend;
    actor: string;
    validityDays?: number;
  }): Promise<IssuedCertificate> {
    const key = await this.keys.create({
      label: p.profile,
      algorithm: p.keyAlgorithm,
      purpose: p.profile,
      backend: p.backend,
      actor: p.actor,
    });
    const signed = await this.signUnder(ISSUING_ID, {
      profile: p.profile,
      subject: buildName({ ...p.org, commonName: p.commonName }),
      spki: key.handle.spki,
      keyAlgorithm: key.algorithm,
      ...(p.validityDays ? { validityDays: p.validityDays } : {}),
    });
    const certificate = signed;
    await this.recordCertificate(ISSUING_ID, p.profile, certificate, key.id, null, p.actor);
    return { serial: certificate.serialHex, profile: p.profile, certificate, keyId: key.id };
  }

  /**
   * Issue S/MIME certificates for one mailbox. Without a CSR the server generates the key pairs:
   * the signing key is handed back and forgotten (never escrowed), the encryption key is handed back
   * and also kept sealed, with every earlier one, so old mail stays readable.
   */
  async issueUser(r: {
    email: string;
    name?: string;
    usage: UserUsage;
    csr?: Buffer | string;
    keyAlgorithm?: KeyAlgorithm;
    validityDays?: number;
    validation?: ValidationModel;
    actor: string;
  }): Promise<IssuedCertificate[]> {
    const email = normaliseEmail(r.email);
    const validation: ValidationModel = r.validation ?? (r.name ? 'sponsor' : 'mailbox');
    const issuer = await this.authority(ISSUING_ID);
    const subject = this.userSubject(email, r.name, validation, issuer.certificate);
    const wanted: ProfileName[] =
      r.usage === 'both'
        ? ['smime-signing', 'smime-encryption']
        : r.usage === 'multipurpose'
          ? ['smime-multipurpose']
          : [r.usage === 'signing' ? 'smime-signing' : 'smime-encryption'];

    if (r.csr !== undefined) {
      if (wanted.length !== 1)
        throw new CaError('a CSR carries one public key: choose --usage signing, encryption or multipurpose');
      const csr = parseCsr(r.csr);
      if (csr.emails.length > 0 && !csr.emails.includes(email)) {
        throw new CaError(`the CSR asks for ${csr.emails.join(', ')} but the request is for ${email}`);
      }
      const profile = wanted[0] as ProfileName;
      const signed = await this.signUnder(ISSUING_ID, {
        profile,
        subject,
        spki: csr.spki,
        keyAlgorithm: csr.keyAlgorithm,
        emails: [email],
        validation,
        ...(r.validityDays ? { validityDays: r.validityDays } : {}),
      });
      const certificate = signed;
      await this.recordCertificate(ISSUING_ID, profile, certificate, null, email, r.actor);
      return [{ serial: certificate.serialHex, profile, certificate }];
    }

    const algorithm = r.keyAlgorithm ?? 'rsa-2048';
    const issued: IssuedCertificate[] = [];
    for (const profile of wanted) {
      const key = await SoftwareKey.generate(algorithm);
      const escrow = profile !== 'smime-signing';
      const kept = escrow
        ? await this.keys.importSoftwareKey({
            key,
            label: `${email} ${profile}`,
            purpose: 'encryption',
            actor: r.actor,
          })
        : undefined;
      const signed = await this.signUnder(ISSUING_ID, {
        profile,
        subject,
        spki: key.spki,
        keyAlgorithm: key.algorithm,
        emails: [email],
        validation,
        ...(r.validityDays ? { validityDays: r.validityDays } : {}),
      });
      const certificate = signed;
      await this.recordCertificate(ISSUING_ID, profile, certificate, kept?.id ?? null, email, r.actor);
      issued.push({
        serial: certificate.serialHex,
        profile,
        certificate,
        generatedKey: key,
        ...(kept ? { keyId: kept.id } : {}),
      });
    }
    return issued;
  }

  async revoke(p: {
    serial: string;
    reason: RevocationReason;
    actor: string;
    authorityId?: string;
  }): Promise<CertificateRecord> {
    if (!REVOCATION_REASONS.includes(p.reason)) {
      throw new CaError(
        `unknown revocation reason "${p.reason}"; use one of ${REVOCATION_REASONS.join(', ')}`,
      );
    }
    const serial = normaliseSerial(p.serial);
    const authorityId = p.authorityId ?? ISSUING_ID;
    const at = nowIso();
    await inTransaction(this.store, async (trx) => {
      const row = await trx
        .selectFrom('certificates')
        .select(['status'])
        .where('authority_id', '=', authorityId)
        .where('serial', '=', serial)
        .executeTakeFirst();
      if (!row)
        throw new CaError(`no certificate with serial ${serial} was issued by ${authorityId}`, 'not-found');
      if (row.status === 'revoked') throw new CaError(`certificate ${serial} is already revoked`, 'conflict');
      await trx
        .updateTable('certificates')
        .set({ status: 'revoked', revoked_at: at, revocation_reason: p.reason })
        .where('authority_id', '=', authorityId)
        .where('serial', '=', serial)
        .execute();
      await trx.insertInto('revocation_events').values({ authority_id: authorityId, serial, at }).execute();
      await this.audit.append(
        {
          actor: p.actor,
          action: 'certificate.revoke',
          target: serial,
          details: { authority: authorityId, reason: p.reason },
        },
        trx,
      );
    });
    const record = await this.get(serial, authorityId);
    if (!record) throw new CaError(`certificate ${serial} vanished after revocation`, 'not-found');
    return record;
  }

  /** Revocation status for OCSP: unknown when this authority never issued the serial. */
  async status(authorityId: string, serial: string): Promise<CertificateStatus> {
    const row = await this.store.db
      .selectFrom('certificates')
      .select(['status', 'revoked_at', 'revocation_reason'])
      .where('authority_id', '=', authorityId)
      .where('serial', '=', normaliseSerial(serial))
      .executeTakeFirst();
    if (!row) return { status: 'unknown' };
    if (row.status !== 'revoked') return { status: 'good' };
    return {
      status: 'revoked',
      revokedAt: new Date(row.revoked_at ?? 0),
      ...(row.revocation_reason ? { reason: row.revocation_reason as RevocationReason } : {}),
    };
  }

  async get(serial: string, authorityId?: string): Promise<CertificateRecord | undefined> {
    let q = this.store.db
      .selectFrom('certificates')
      .selectAll()
      .where('serial', '=', normaliseSerial(serial));
    if (authorityId) q = q.where('authority_id', '=', authorityId);
    const row = await q.executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async list(
    p: { email?: string; status?: 'valid' | 'revoked'; profile?: string; limit?: number } = {},
  ): Promise<CertificateRecord[]> {
    let q = this.store.db.selectFrom('certificates').selectAll();
    if (p.email) q = q.where('email', '=', normaliseEmail(p.email));
    if (p.status) q = q.where('status', '=', p.status);
    if (p.profile) q = q.where('profile', '=', p.profile);
    const rows = await q
      .orderBy('created_at', 'desc')
      .limit(Math.min(p.limit ?? 100, 1000))
      .execute();
    return rows.map(toRecord);
  }

  /** The newest valid certificate of a service profile and its key (OCSP signer, TSA, seal). */
  async serviceCredentials(
    profile: 'ocsp' | 'tsa' | 'seal',
  ): Promise<{ certificate: ParsedCertificate; key: ManagedKey; chain: ParsedCertificate[] }> {
    const now = nowIso();
    const row = await this.store.db
      .selectFrom('certificates')
      .select(['certificate', 'key_id'])
      .where('profile', '=', profile)
      .where('status', '=', 'valid')
      .where('not_after', '>', now)
      .where('key_id', 'is not', null)
      .orderBy('not_before', 'desc')
      .executeTakeFirst();
    if (!row || !row.key_id)
      throw new CaError(`no valid ${profile} certificate: run \`sealpost init\` first`, 'not-initialised');
    const issuing = await this.authority(ISSUING_ID);
    const root = await this.authority(ROOT_ID);
    return {
      certificate: parseCertificate(row.certificate),
      key: await this.keys.load(row.key_id),
      chain: [issuing.certificate, root.certificate],
    };
  }

  /** An authority's certificate, and its key when this installation holds it (an imported root may not). */
  async authority(id: string): Promise<AuthorityInfo> {
    const cached = this.authorities.get(id);
    if (cached) return cached;
    const row = await this.store.db
      .selectFrom('authorities')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) {
      throw new CaError(
        `certificate authority "${id}" does not exist: run \`sealpost init\` first`,
        'not-initialised',
      );
    }
    const info: AuthorityInfo = {
      id,
      certificate: parseCertificate(row.certificate),
      ...(row.key_id ? { key: await this.keys.load(row.key_id) } : {}),
    };
    this.authorities.set(id, info);
    return info;
  }

  /** An authority that can sign here (certificates, CRLs, OCSP answers). */
  async signer(id: string): Promise<Authority> {
    const info = await this.authority(id);
    if (!info.key) {
      throw new CaError(
        `certificate authority "${id}" has no private key in this installation`,
        'not-initialised',
      );
    }
    return { id: info.id, certificate: info.certificate, key: info.key };
  }

  async authorityIds(opts: { withKey?: boolean } = {}): Promise<string[]> {
    let q = this.store.db.selectFrom('authorities').select('id').orderBy('created_at');
    if (opts.withKey) q = q.where('key_id', 'is not', null);
    return (await q.execute()).map((r) => r.id);
  }

  /** Issuing CA first, root last: what a relying party needs besides the end-entity certificate. */
  async chainPem(): Promise<string> {
    const issuing = await this.authority(ISSUING_ID);
    const root = await this.authority(ROOT_ID);
    return toPem(issuing.certificate.der, 'CERTIFICATE') + toPem(root.certificate.der, 'CERTIFICATE');
  }

  /** Sign a new full CRL for an authority (the caller makes sure only the leader does this). */
  async issueCrl(authorityId: string, p: { validityHours: number; actor: string }): Promise<Buffer> {
    const authority = await this.signer(authorityId);
    const revokedRows = await this.store.db
      .selectFrom('certificates')
      .select(['serial', 'revoked_at', 'revocation_reason'])
      .where('authority_id', '=', authorityId)
      .where('status', '=', 'revoked')
      .execute();
    const crlNumber = await nextCounter(this.store, `crl:${authorityId}`);
    const thisUpdate = new Date(Math.floor(Date.now() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + p.validityHours * 3600_000);
    const der = await signCrl({
      issuer: authority.certificate,
      issuerKey: authority.key.handle,
      hash: defaultHashFor(authority.key.algorithm),
      crlNumber,
      thisUpdate,
      nextUpdate,
      revoked: revokedRows.map((r) => ({
        serialHex: r.serial,
        revokedAt: new Date(r.revoked_at ?? 0),
        ...(r.revocation_reason ? { reason: r.revocation_reason as RevocationReason } : {}),
      })),
    });
    await this.store.db
      .insertInto('crls')
      .values({
        authority_id: authorityId,
        crl_number: crlNumber.toString(),
        this_update: thisUpdate.toISOString(),
        next_update: nextUpdate.toISOString(),
        der,
      })
      .execute();
    await this.audit.append({
      actor: p.actor,
      action: 'crl.issue',
      target: authorityId,
      details: { crlNumber: crlNumber.toString(), revoked: revokedRows.length },
    });
    return der;
  }

  async latestCrl(
    authorityId: string,
  ): Promise<{ der: Buffer; crlNumber: bigint; thisUpdate: Date; nextUpdate: Date } | undefined> {
    // crl_number is text for portability; order by the issue time, which rises with the number.
    const row = await this.store.db
      .selectFrom('crls')
      .selectAll()
      .where('authority_id', '=', authorityId)
      .orderBy('this_update', 'desc')
      .orderBy('crl_number', 'desc')
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      der: Buffer.from(row.der),
      crlNumber: BigInt(row.crl_number),
      thisUpdate: new Date(row.this_update),
      nextUpdate: new Date(row.next_update),
    };
  }

  /** Revocations after `afterId`, oldest first: how other nodes learn that their cached answers are stale. */
  async revocationEventsSince(
    afterId: number,
    limit = 1000,
  ): Promise<{ id: number; authorityId: string; serial: string; at: string }[]> {
    const rows = await this.store.db
      .selectFrom('revocation_events')
      .selectAll()
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: Number(r.id), authorityId: r.authority_id, serial: r.serial, at: r.at }));
  }

  async lastRevocationEventId(): Promise<number> {
    const row = await this.store.db
      .selectFrom('revocation_events')
      .select((eb) => eb.fn.max('id').as('max'))
      .executeTakeFirst();
    return Number(row?.max ?? 0);
  }

  private userSubject(
    email: string,
    name: string | undefined,
    validation: ValidationModel,
    issuer: ParsedCertificate,
  ): Name {
    if (validation === 'mailbox') return buildName({ commonName: email, email });
    if (!name) throw new CaError("a sponsor-validated certificate needs the person's name (--name)");
    const org = organisationOf(issuer);
    return buildName({ commonName: name, email, ...(org ? { organization: org } : {}) });
  }

  private async signUnder(
    authorityId: string,
    p: {
      profile: ProfileName;
      subject: Name;
      spki: Buffer;
      keyAlgorithm: KeyAlgorithm;
      emails?: string[];
      validation?: ValidationModel;
      validityDays?: number;
    },
  ): Promise<SignedCertificate> {
    const issuer = await this.signer(authorityId);
    const profile = buildProfile({
      profile: p.profile,
      subjectSpki: p.spki,
      subjectKeyAlgorithm: p.keyAlgorithm,
      ...(issuer.certificate.subjectKeyId ? { issuerSki: issuer.certificate.subjectKeyId } : {}),
      ...(p.emails ? { emails: p.emails } : {}),
      ...(p.validation ? { validation: p.validation } : {}),
      ...(p.validityDays ? { validityDays: p.validityDays } : {}),
      ocspUrl: this.urls.ocsp,
      caIssuersUrl: this.urls.caIssuers(authorityId),
      crlUrl: this.urls.crl(authorityId),
    });
    const serial = randomSerial();
    const der = await signCertificate(
      {
        serial,
        issuer: issuer.certificate.subject,
        subject: p.subject,
        spki: p.spki,
        ...profile,
      },
      issuer.key.handle,
      defaultHashFor(issuer.key.algorithm),
    );
    // randomSerial() is positive with a non-zero first byte, so its hex is the serial as parsers print it.
    return {
      der,
      serialHex: serial.toString('hex'),
      subjectString: nameToString(p.subject),
      emails: p.emails ?? [],
      notBefore: profile.notBefore,
      notAfter: profile.notAfter,
    };
  }

  private async insertAuthority(
    id: string,
    kind: string,
    parentId: string | null,
    cert: ParsedCertificate,
    keyId: string | null,
    actor: string,
  ): Promise<void> {
    await this.store.db
      .insertInto('authorities')
      .values({
        id,
        kind,
        parent_id: parentId,
        subject: cert.subjectString,
        certificate: cert.der,
        key_id: keyId,
        created_at: nowIso(),
      })
      .execute();
    await this.audit.append({
      actor,
      action: 'ca.create',
      target: id,
      details: { subject: cert.subjectString, serial: cert.serialHex },
    });
  }

  private async recordCertificate(
    authorityId: string,
    profile: ProfileName,
    cert: SignedCertificate,
    keyId: string | null,
    email: string | null,
    actor: string,
  ): Promise<void> {
    await inTransaction(this.store, async (trx) => {
      await trx
        .insertInto('certificates')
        .values({
          serial: cert.serialHex,
          authority_id: authorityId,
          profile,
          subject: cert.subjectString,
          email: email ?? cert.emails[0] ?? null,
          not_before: cert.notBefore.toISOString(),
          not_after: cert.notAfter.toISOString(),
          certificate: cert.der,
          key_id: keyId,
          status: 'valid',
          revoked_at: null,
          revocation_reason: null,
          created_at: nowIso(),
        })
        .execute();
      await this.audit.append(
        {
          actor,
          action: 'certificate.issue',
          target: cert.serialHex,
          details: {
            authority: authorityId,
            profile,
            subject: cert.subjectString,
            keyUse: 'ca-sign',
            escrowedKey: keyId !== null && profile.startsWith('smime'),
          },
        },
        trx,
      );
    });
  }
}

export function normaliseEmail(email: string): string {
  const trimmed = email.trim();
  // RFC 5321 §4.5.3.1: 64-octet local part, 255-octet domain; one @.
  if (!/^[^@\s]{1,64}@[^@\s]{1,255}$/.test(trimmed)) throw new CaError(`"${email}" is not an email address`);
  return trimmed.toLowerCase();
}

export function normaliseSerial(serial: string): string {
  const hex = serial.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '');
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw new CaError(`"${serial}" is not a hexadecimal serial number`);
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}

/** The O attribute of a certificate's subject, read from the Name (a regex over the RFC 4514 string breaks on escaped commas). */
function organisationOf(cert: ParsedCertificate): string | undefined {
  return nameAttribute(cert.subject, OID_AT.organization);
}

function toRecord(row: {
  serial: string;
  authority_id: string;
  profile: string;
  subject: string;
  email: string | null;
  not_before: string;
  not_after: string;
  status: string;
  revoked_at: string | null;
  revocation_reason: string | null;
  key_id: string | null;
  certificate: Buffer;
}): CertificateRecord {
  return {
    serial: row.serial,
    authorityId: row.authority_id,
    profile: row.profile,
    subject: row.subject,
    email: row.email,
    notBefore: row.not_before,
    notAfter: row.not_after,
    status: row.status === 'revoked' ? 'revoked' : 'valid',
    revokedAt: row.revoked_at,
    revocationReason: (row.revocation_reason as RevocationReason | null) ?? null,
    keyId: row.key_id,
    certificate: Buffer.from(row.certificate),
  };
}
