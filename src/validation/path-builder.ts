/**
 * Candidate certification paths from a leaf to a trust anchor (RFC 4158 ideas, RFC 5280 §6.1 name chaining):
 * issuers are looked up by name, tried in order of AuthorityKeyIdentifier/SubjectKeyIdentifier agreement,
 * accepted only when their key verifies the child's signature, and explored depth-first so that cross-certified
 * CAs yield several paths. A certificate never appears twice in one path, so loops are impossible; depth and
 * the total number of signature checks are bounded so hostile pools stay cheap.
 */
import { isIssuedBy, issuerNameMatches, type ParsedCertificate } from '../pkix/certificate.js';

/** At most this many certificates in a path, leaf and anchor included. */
export const MAX_PATH_LENGTH = 8;
/** Bound on signature verifications while searching (cross-certificate meshes can branch). */
const MAX_SIGNATURE_CHECKS = 64;
/** Stop once this many complete paths are known; the caller picks the best. */
const MAX_PATHS = 8;

export interface PathSearch {
  /** Complete paths, leaf first, a trust anchor last, best candidates first. */
  paths: ParsedCertificate[][];
  /** The longest path that did not reach an anchor, for explaining why none was found. */
  longestPartial: ParsedCertificate[];
  /** Certificates whose name matched but whose key did not verify the child's signature. */
  badSignatures: { child: ParsedCertificate; candidate: ParsedCertificate }[];
}

export interface IssuerSource {
  /** Extra candidates for `cert`'s issuer, e.g. fetched from its AIA caIssuers URL. */
  (cert: ParsedCertificate): Promise<ParsedCertificate[]>;
}

/** 0 = AKI and SKI agree, 1 = one of them missing, 2 = both present and different (tried last). */
function keyIdRank(child: ParsedCertificate, candidate: ParsedCertificate): number {
  if (!child.authorityKeyId || !candidate.subjectKeyId) return 1;
  return child.authorityKeyId.equals(candidate.subjectKeyId) ? 0 : 2;
}

/** The same certificate, or the same key under the same name (a re-issued root). */
export function sameCertificate(a: ParsedCertificate, b: ParsedCertificate): boolean {
  return a.der.equals(b.der) || (a.subjectDer.equals(b.subjectDer) && a.spki.equals(b.spki));
}

export async function buildPaths(
  leaf: ParsedCertificate,
  anchors: ParsedCertificate[],
  pool: ParsedCertificate[],
  moreIssuers?: IssuerSource,
): Promise<PathSearch> {
  const result: PathSearch = { paths: [], longestPartial: [leaf], badSignatures: [] };
  const isAnchor = (c: ParsedCertificate) => anchors.some((a) => sameCertificate(a, c));
  let signatureChecks = 0;
  const fetched = new Set<string>();

  const candidatesFor = async (cert: ParsedCertificate): Promise<ParsedCertificate[]> => {
    let found = [...anchors, ...pool].filter((c) => issuerNameMatches(cert, c));
    if (found.length === 0 && moreIssuers && !fetched.has(cert.der.toString('base64'))) {
      fetched.add(cert.der.toString('base64'));
      const extra = await moreIssuers(cert);
      pool.push(...extra);
      found = extra.filter((c) => issuerNameMatches(cert, c));
    }
    // Anchors before untrusted certificates at equal key-id rank: shorter, trusted paths first.
    return found
      .map((c, i) => ({ c, rank: keyIdRank(cert, c) * 2 + (isAnchor(c) ? 0 : 1), i }))
      .sort((a, b) => a.rank - b.rank || a.i - b.i)
      .map((x) => x.c);
  };

  const explore = async (path: ParsedCertificate[]): Promise<void> => {
    if (result.paths.length >= MAX_PATHS) return;
    const tip = path[path.length - 1] as ParsedCertificate;
    if (isAnchor(tip)) {
      result.paths.push([...path]);
      return;
    }
    if (path.length > result.longestPartial.length) result.longestPartial = [...path];
    if (path.length >= MAX_PATH_LENGTH) return;
    for (const candidate of await candidatesFor(tip)) {
      if (path.some((p) => sameCertificate(p, candidate))) continue; // no loops
      if (signatureChecks++ >= MAX_SIGNATURE_CHECKS) return;
      if (!isIssuedBy(tip, candidate)) {
        result.badSignatures.push({ child: tip, candidate });
        continue;
      }
      path.push(candidate);
      await explore(path);
      path.pop();
      if (result.paths.length >= MAX_PATHS) return;
    }
  };

  await explore([leaf]);
  return result;
}
