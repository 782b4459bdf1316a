/** Recognises S/MIME parts however the sending client labelled them (RFC 8551 §3.2.1, §3.2.2). */
import { findHeader, parseParameterized } from './headers.js';
import type { MimePart } from './parser.js';

export type SmimeKind =
  | 'multipart-signed'
  | 'pkcs7-signed-data'
  | 'pkcs7-enveloped'
  | 'pkcs7-auth-enveloped'
  | 'pkcs7-unknown'
  | 'none';

const PKCS7_MIME = new Set(['application/pkcs7-mime', 'application/x-pkcs7-mime']);
const PKCS7_SIGNATURE = new Set(['application/pkcs7-signature', 'application/x-pkcs7-signature']);
const GENERIC = new Set(['application/octet-stream', 'application/x-octet-stream', 'application/binary']);

function fileName(part: MimePart): string {
  const disposition = findHeader(part.headers, 'content-disposition');
  const fromDisposition = disposition ? parseParameterized(disposition).params['filename'] : undefined;
  return (fromDisposition ?? part.contentType.params['name'] ?? '').trim().toLowerCase();
}

function bySmimeType(smimeType: string | undefined): SmimeKind {
  switch (smimeType?.trim().toLowerCase()) {
    case 'signed-data':
      return 'pkcs7-signed-data';
    case 'enveloped-data':
      return 'pkcs7-enveloped';
    case 'authenveloped-data':
      return 'pkcs7-auth-enveloped';
    default:
      // Missing, certs-only, compressed-data or unknown: the CMS content type has to decide.
      return 'pkcs7-unknown';
  }
}

/**
 * What kind of S/MIME structure a part is. application/octet-stream named *.p7m, *.p7s or *.p7c is
 * what some clients send; when smime-type is missing the answer is 'pkcs7-unknown' and the caller
 * reads the CMS ContentInfo to decide.
 */
export function classifySmime(part: MimePart): SmimeKind {
  const { mediaType, params } = part.contentType;
  if (mediaType === 'multipart/signed') {
    const protocol = (params['protocol'] ?? '').trim().toLowerCase();
    if (PKCS7_SIGNATURE.has(protocol)) return 'multipart-signed';
    const second = part.children?.[1];
    return !protocol && second && PKCS7_SIGNATURE.has(second.contentType.mediaType)
      ? 'multipart-signed'
      : 'none';
  }
  if (PKCS7_MIME.has(mediaType)) return bySmimeType(params['smime-type']);
  if (PKCS7_SIGNATURE.has(mediaType)) return 'pkcs7-unknown';
  if (GENERIC.has(mediaType)) {
    const name = fileName(part);
    if (name.endsWith('.p7m')) return bySmimeType(params['smime-type']);
    if (name.endsWith('.p7s') || name.endsWith('.p7c')) return 'pkcs7-unknown';
  }
  return 'none';
}
