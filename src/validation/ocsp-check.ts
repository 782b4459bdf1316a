/**
 * Use an OCSP response for one certificate (RFC 6960 §3.2, §4.2.2.2): the answer must be for this issuer and
 * serial, signed by the issuer itself or by a delegated responder that the issuer certified with
 * id-kp-OCSPSigning, current at the validation time (5 minutes clock skew), and carry our nonce when we sent
 * one and the responder echoed any.
 */
import { createHash } from 'node:crypto';
import type { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { parseAlgorithmIdentifier, verifySignature } from '../pkix/algorithms.js';
import { isIssuedBy, parseCertificate, type ParsedCertificate } from '../pkix/certificate.js';
import { TAG, readTlv } from '../pkix/der.js';
import { DerCursor } from '../pkix/der-fields.js';
import {
  encodeOcspNonce,
  parseOcspResponse,
  type OcspCertId,
  type ParsedOcspAnswer,
  type ParsedOcspResponse,
} from '../pkix/ocsp.js';
import { OID_KP } from '../pkix/oids.js';
import { certLabel, instant } from './describe.js';
import { statusAt, windowProblem, type Evidence } from './evidence.js';

/** The subjectPublicKey BIT STRING content (without the unused-bits byte): what CertID.issuerKeyHash hashes. */
function subjectPublicKey(spki: Buffer): Buffer {
  const root = readTlv(spki, 0, spki.length, 'SubjectPublicKeyInfo');
  const c = new DerCursor(spki, root, 'SubjectPublicKeyInfo');
  c.take(TAG.SEQUENCE, 'algorithm');
  return c.content(c.take(TAG.BIT_STRING, 'subjectPublicKey')).subarray(1);
}

/** Does this CertID name `cert` as issued by `issuer` (RFC 6960 §4.1.1)? */
function certIdMatches(id: OcspCertId, cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (id.serialHex !== cert.serialHex) return false;
  const nameHash = createHash(id.hash).update(issuer.subjectDer).digest();
  const keyHash = createHash(id.hash).update(subjectPublicKey(issuer.spki)).digest();
  return nameHash.equals(id.issuerNameHash) && keyHash.equals(id.issuerKeyHash);
}

/** tbsResponseData, signatureAlgorithm and signature of the BasicOCSPResponse, to verify with a key we choose. */
function signedParts(der: Buffer): { tbs: Buffer; alg: AlgorithmIdentifier; signature: Buffer } {
  const outer = new DerCursor(der, readTlv(der, 0, der.length, 'OCSPResponse'), 'OCSPResponse');
  outer.take(TAG.ENUMERATED, 'responseStatus');
  const explicit = outer.into(outer.take(0xa0, 'responseBytes'));
  const bytes = explicit.into(explicit.take(TAG.SEQUENCE, 'ResponseBytes'));
  bytes.take(TAG.OID, 'responseType');
  const basicDer = bytes.content(bytes.take(TAG.OCTET_STRING, 'response'));
  const basic = new DerCursor(basicDer, readTlv(basicDer, 0, basicDer.length), 'BasicOCSPResponse');
  const tbs = basic.bytes(basic.take(TAG.SEQUENCE, 'tbsResponseData'));
  const alg = parseAlgorithmIdentifier(basic.bytes(basic.take(TAG.SEQUENCE, 'signatureAlgorithm')));
  const bits = basic.content(basic.take(TAG.BIT_STRING, 'signature'));
  return { tbs, alg, signature: bits.subarray(1) };
}

/**
 * Parsing a response verifies its signature, and one response is offered for every certificate of every
 * path a validation checks (a PDF's DSS holds the responses for the signer's and the TSA's chains): keep
 * the result per response object, with a copy of its bytes so that a buffer changed in between is parsed
 * afresh. Failures are not kept; they are rare and rethrown as they come.
 */
const parsedResponses = new WeakMap<Buffer, { bytes: Buffer; response: ParsedOcspResponse }>();

function parseOnce(der: Buffer): ParsedOcspResponse {
  const hit = parsedResponses.get(der);
  if (hit?.bytes.equals(der)) return hit.response;
  const response = parseOcspResponse(der);
  parsedResponses.set(der, { bytes: Buffer.from(der), response });
  return response;
}

/** Verifications of issuer-signed responses, per response object and issuer key (as above). */
const keyVerdicts = new WeakMap<Buffer, { bytes: Buffer; byKey: Map<string, boolean> }>();

function signedByKey(der: Buffer, spki: Buffer): boolean {
  let entry = keyVerdicts.get(der);
  if (!entry?.bytes.equals(der))
    keyVerdicts.set(der, (entry = { bytes: Buffer.from(der), byKey: new Map() }));
  const key = spki.toString('latin1');
  let ok = entry.byKey.get(key);
  if (ok === undefined) entry.byKey.set(key, (ok = verifiedBy(der, spki)));
  return ok;
}

function verifiedBy(der: Buffer, spki: Buffer): boolean {
  try {
    const { tbs, alg, signature } = signedParts(der);
    return verifySignature(spki, alg, tbs, signature);
  } catch {
    return false; // parseOcspResponse accepted the structure; anything odd here just fails the check
  }
}

/** Who signed the response, if it is someone RFC 6960 §4.2.2.2 authorises for this issuer; else why not. */
function authoriseResponder(
  der: Buffer,
  response: ParsedOcspResponse,
  issuer: ParsedCertificate,
): { ok: true; who: string; certificates: Buffer[] } | { ok: false; why: string } {
  const issuerName = certLabel(issuer);
  if (!response.responderCertificate) {
    // No certificate included: only the issuer's own key can have signed it.
    return signedByKey(der, issuer.spki)
      ? { ok: true, who: issuerName, certificates: [] }
      : {
          ok: false,
          why: `the OCSP response is not signed by ${issuerName} and names no delegated responder`,
        };
  }
  const responder = parseCertificate(response.responderCertificate);
  if (response.signatureValid !== true) {
    return {
      ok: false,
      why: `the OCSP response signature does not verify with ${certLabel(responder)}'s key`,
    };
  }
  if (responder.spki.equals(issuer.spki)) return { ok: true, who: issuerName, certificates: [] };
  if (!isIssuedBy(responder, issuer)) {
    return {
      ok: false,
      why: `the OCSP responder ${certLabel(responder)} was not certified by ${issuerName}, so it may not answer for its certificates`,
    };
  }
  if (!responder.extKeyUsage.includes(OID_KP.ocspSigning)) {
    return {
      ok: false,
      why: `the OCSP responder ${certLabel(responder)} lacks the OCSPSigning extended key usage (RFC 6960 §4.2.2.2)`,
    };
  }
  const signedAt = response.producedAt ?? new Date();
  if (signedAt < responder.notBefore || signedAt > responder.notAfter) {
    return {
      ok: false,
      why: `the OCSP responder certificate ${certLabel(responder)} was not valid when it signed (${instant(signedAt)})`,
    };
  }
  const nocheck = responder.ocspNoCheck ? '' : ' (its own revocation status is not checked: no ocsp-nocheck)';
  return {
    ok: true,
    who: `delegated responder ${certLabel(responder)}${nocheck}`,
    certificates: [responder.der],
  };
}

export function evaluateOcsp(
  der: Buffer,
  cert: ParsedCertificate,
  issuer: ParsedCertificate,
  p: { at: Date; now: Date; url?: string; sentNonce?: Buffer },
): Evidence {
  const from = p.url ? ` from ${p.url}` : '';
  let response: ParsedOcspResponse;
  try {
    response = parseOnce(der);
  } catch (e) {
    return {
      kind: 'invalid',
      source: 'ocsp',
      detail: `the OCSP response${from} cannot be read: ${(e as Error).message}`,
    };
  }
  if (response.status !== 'successful') {
    return {
      kind: 'invalid',
      source: 'ocsp',
      detail: `the OCSP responder${from} answered "${response.status}"`,
    };
  }
  let answer: ParsedOcspAnswer | undefined;
  try {
    answer = response.answers.find((a) => certIdMatches(a.certId, cert, issuer));
  } catch {
    answer = undefined;
  }
  if (!answer) {
    return p.url
      ? {
          kind: 'invalid',
          source: 'ocsp',
          detail: `the OCSP response${from} does not answer for this certificate`,
        }
      : { kind: 'not-applicable' };
  }
  let responder;
  try {
    responder = authoriseResponder(der, response, issuer);
  } catch (e) {
    responder = {
      ok: false as const,
      why: `the OCSP responder certificate cannot be read: ${(e as Error).message}`,
    };
  }
  if (!responder.ok) return { kind: 'invalid', source: 'ocsp', detail: responder.why };
  if (p.sentNonce && response.nonce && !response.nonce.equals(encodeOcspNonce(p.sentNonce))) {
    return {
      kind: 'invalid',
      source: 'ocsp',
      detail: `the OCSP response${from} carries a different nonce (a replay?)`,
    };
  }
  const stale = windowProblem(`the OCSP response${from}`, answer.thisUpdate, answer.nextUpdate, p.at, p.now);
  if (stale) return { kind: 'invalid', source: 'ocsp', detail: stale };

  const by = `OCSP${from}, signed by ${responder.who}`;
  const s = answer.status;
  if (s.status === 'unknown')
    return {
      kind: 'unknown',
      source: 'ocsp',
      detail: `the responder does not know this certificate (${by})`,
    };
  const base = {
    kind: 'status' as const,
    source: 'ocsp' as const,
    der,
    certificates: responder.certificates,
    ...(answer.nextUpdate ? { nextUpdate: answer.nextUpdate } : {}),
  };
  if (s.status === 'good') return { ...base, status: 'good', detail: `good according to ${by}` };
  const { status, phrase } = statusAt(s.revokedAt, s.reason, p.at);
  return {
    ...base,
    status,
    ...(status === 'revoked' ? { revokedAt: s.revokedAt } : {}),
    ...(status === 'revoked' && s.reason ? { reason: s.reason } : {}),
    detail: `${phrase}, according to ${by}`,
  };
}
