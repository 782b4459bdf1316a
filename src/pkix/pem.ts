/** PEM (RFC 7468) encoding and decoding. */
import { Asn1Error } from './errors.js';

const BEGIN = /-----BEGIN ([A-Z0-9 ]{1,64})-----/g;
const END = /-----END ([A-Z0-9 ]{1,64})-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/=\s]*$/;
/** Refuse to scan absurdly large text: certificates, CSRs and CRLs we handle are far below this. */
const MAX_PEM_TEXT = 16 * 1024 * 1024;

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every well-formed PEM block in `text`, in order. Text between blocks (e.g. `openssl x509 -text`) is ignored. */
export function fromPem(text: string): { label: string; der: Buffer }[] {
  if (text.length > MAX_PEM_TEXT) return [];
  // Index every END line once, so that pairing BEGIN with END stays linear even on hostile text.
  const ends = new Map<string, number[]>();
  for (const m of text.matchAll(END)) {
    const list = ends.get(m[1] as string) ?? [];
    list.push(m.index);
    ends.set(m[1] as string, list);
  }
  const blocks: { label: string; der: Buffer }[] = [];
  let consumedTo = 0;
  for (const m of text.matchAll(BEGIN)) {
    if (m.index < consumedTo) continue;
    const label = m[1] as string;
    const bodyStart = m.index + m[0].length;
    const end = firstAtOrAfter(ends.get(label) ?? [], bodyStart);
    if (end === undefined) continue;
    consumedTo = end;
    const body = pemBody(text.slice(bodyStart, end));
    if (body === undefined) continue;
    const der = Buffer.from(body.replace(/\s+/g, ''), 'base64');
    if (der.length > 0) blocks.push({ label, der });
  }
  return blocks;
}

/** Smallest element of the ascending list that is ≥ `from` (binary search). */
function firstAtOrAfter(sorted: number[], from: number): number | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < from) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo];
}

/** The base64 part of a block body, skipping RFC 1421 headers ("Proc-Type: …" then a blank line). */
function pemBody(body: string): string | undefined {
  if (body.includes(':')) {
    const blank = body.search(/\r?\n\r?\n/);
    if (blank < 0) return undefined;
    body = body.slice(blank);
  }
  return BASE64_BODY.test(body) ? body : undefined;
}

/**
 * Accept DER bytes or PEM text (string or bytes) and return DER. With `label`, the first block with that label
 * is used; without, the first block of any label. Throws when text looks like PEM but has no matching block.
 */
export function pemOrDer(input: Uint8Array | string, label?: string): Buffer {
  const text =
    typeof input === 'string' ? input : looksLikePem(input) ? Buffer.from(input).toString('latin1') : null;
  if (text === null) return Buffer.from(input as Uint8Array);
  const blocks = fromPem(text);
  const block = label ? blocks.find((b) => b.label === label) : blocks[0];
  if (!block) {
    throw new Asn1Error(
      label
        ? `no "-----BEGIN ${label}-----" block found; pass PEM with that label or raw DER`
        : 'no PEM block found; pass PEM or raw DER',
    );
  }
  return block.der;
}

/** DER always starts with a tag byte; PEM text starts with "-----" possibly after whitespace or explanatory text. */
function looksLikePem(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, 65536))).toString('latin1');
  return head.includes('-----BEGIN ');
}
