/**
 * Builders for the S/MIME mail structures (RFC 8551 §3). Output uses CRLF everywhere, base64 in
 * 76-column lines, and random boundaries checked not to occur in the content they enclose.
 */
import { randomBytesPooled } from '../../crypto/random-pool.js';
import { MimeBuildError } from './errors.js';
import { encodeHeaderWords, parseParameterized } from './headers.js';
import { encodeBase64Lines, encodeQuotedPrintable } from './transfer-encoding.js';

/** Header fields to write, in order. A record is written in its key order. */
export type HeaderInput = ReadonlyArray<readonly [string, string]> | Readonly<Record<string, string>>;

export function headerEntries(headers: HeaderInput | undefined): Array<[string, string]> {
  if (!headers) return [];
  const list = Array.isArray(headers) ? headers : Object.entries(headers);
  return list.map(([name, value]) => [name, value] as [string, string]);
}

// Fields whose value is free text (RFC 5322 §3.6.5, RFC 2045 §8): encoded as a whole when non-ASCII.
const UNSTRUCTURED = new Set(['subject', 'comments', 'content-description']);

const NON_ASCII = /[^\x20-\x7e\t]/;

/**
 * Serialises one header field with CRLF. Rejects names that are not RFC 5322 ftext and values with
 * line breaks (header injection); non-ASCII text is RFC 2047-encoded, long lines are folded.
 */
export function formatHeaderField(name: string, value: string): string {
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
    throw new MimeBuildError(
      `header name ${JSON.stringify(name)} is not valid (RFC 5322 §3.6.8: printable ASCII, no colon)`,
    );
  }
  if (/[\r\n\0]/.test(value)) {
    throw new MimeBuildError(
      `header ${name} contains a line break or NUL; pass the value unfolded on one line`,
    );
  }
  const encoded = NON_ASCII.test(value) ? encodeNonAscii(name, value) : value;
  return fold(`${name}: ${encoded}`) + '\r\n';
}

const PARAMETERIZED = new Set(['content-type', 'content-disposition']);

function encodeNonAscii(name: string, value: string): string {
  if (UNSTRUCTURED.has(name.toLowerCase())) return encodeHeaderWords(value);
  if (PARAMETERIZED.has(name.toLowerCase())) return encodeParameters(value);
  // Structured fields (addresses): encode only runs of display-name words, never the addr-spec,
  // angle brackets, commas or quotes, so the address stays machine-readable (RFC 2047 §5(3)).
  const words = value.split(' ');
  const out: string[] = [];
  let run: string[] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    out.push(run.some((word) => NON_ASCII.test(word)) ? encodeHeaderWords(run.join(' ')) : run.join(' '));
    run = [];
  };
  for (const word of words) {
    if (/[<>@,";:]/.test(word)) {
      flush();
      out.push(word);
    } else {
      run.push(word);
    }
  }
  flush();
  return out.join(' ');
}

/** Re-writes parameters with RFC 2231 §4 `name*=utf-8''%xx` where a value is not ASCII. */
function encodeParameters(value: string): string {
  const parsed = parseParameterized(value);
  const pieces = [parsed.value];
  for (const [param, text] of Object.entries(parsed.params)) {
    if (NON_ASCII.test(text)) {
      const escaped = [...Buffer.from(text, 'utf8')]
        .map((byte) =>
          /[A-Za-z0-9.\-_]/.test(String.fromCharCode(byte))
            ? String.fromCharCode(byte)
            : '%' + byte.toString(16).toUpperCase().padStart(2, '0'),
        )
        .join('');
      pieces.push(`${param}*=utf-8''${escaped}`);
    } else {
      pieces.push(`${param}="${text.replace(/(["\\])/g, '\\$1')}"`);
    }
  }
  return pieces.join('; ');
}

/** Folds at whitespace so lines stay within 78 characters where possible (RFC 5322 §2.1.1). */
function fold(text: string): string {
  // Never fold between the field name and the first word of its value.
  const firstAllowedCut = text.indexOf(':') + 2;
  return text
    .split('\r\n')
    .map((line, index) => foldLine(line, index === 0 ? firstAllowedCut : 1))
    .join('\r\n');
}

function foldLine(line: string, firstAllowedCut: number): string {
  const pieces: string[] = [];
  let rest = line;
  let minCut = firstAllowedCut;
  while (rest.length > 78) {
    let cut = rest.lastIndexOf(' ', 78);
    if (cut < minCut) cut = rest.indexOf(' ', Math.max(78, minCut));
    // Never cut where a piece would be blank: a blank line would end the header section.
    if (cut < minCut || rest.slice(0, cut).trim() === '' || rest.slice(cut).trim() === '') break;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
    minCut = 1;
  }
  pieces.push(rest);
  return pieces.join('\r\n');
}

export function formatHeaders(entries: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.from(entries.map(([name, value]) => formatHeaderField(name, value)).join(''), 'utf8');
}

function hasHeader(entries: ReadonlyArray<readonly [string, string]>, name: string): boolean {
  return entries.some(([key]) => key.toLowerCase() === name.toLowerCase());
}

function withoutHeaders(entries: Array<[string, string]>, names: string[]): Array<[string, string]> {
  const drop = new Set(names.map((name) => name.toLowerCase()));
  return entries.filter(([key]) => !drop.has(key.toLowerCase()));
}

/**
 * A random boundary (RFC 2046 §5.1.1 bchars) that occurs in none of the given contents, so no
 * delimiter line can be forged or matched by accident.
 */
export function chooseBoundary(contents: readonly Uint8Array[]): string {
  for (let attempt = 0; attempt < 16; attempt++) {
    const boundary = `----=_sp_${randomBytesPooled(18).toString('base64url').replace(/-/g, '.')}`;
    const needle = Buffer.from(boundary, 'latin1');
    if (
      contents.every(
        (content) =>
          Buffer.from(content.buffer, content.byteOffset, content.byteLength).indexOf(needle) === -1,
      )
    ) {
      return boundary;
    }
  }
  throw new MimeBuildError('could not find a multipart boundary absent from the content after 16 tries');
}

export interface EntityOptions {
  /** Encode `body` with this transfer encoding and set Content-Transfer-Encoding accordingly. */
  transferEncoding?: 'base64' | 'quoted-printable';
}

/** Header section + blank line + body. Headers are written as given (plus the transfer encoding). */
export function buildEntity(headers: HeaderInput, body: Uint8Array, options: EntityOptions = {}): Buffer {
  let entries = headerEntries(headers);
  let encoded = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (options.transferEncoding) {
    entries = [
      ...withoutHeaders(entries, ['content-transfer-encoding']),
      ['Content-Transfer-Encoding', options.transferEncoding],
    ];
    encoded = options.transferEncoding === 'base64' ? encodeBase64Lines(body) : encodeQuotedPrintable(body);
  }
  return Buffer.concat([formatHeaders(entries), Buffer.from('\r\n'), encoded]);
}

export type MicAlg = 'sha-256' | 'sha-384' | 'sha-512';

export interface MultipartSignedInput {
  /** The first body part exactly as signed: already canonical (CRLF) and 7-bit safe. */
  signedPartBytes: Uint8Array;
  /** DER of the detached CMS SignedData. */
  signatureDer: Uint8Array;
  micalg: MicAlg;
  /** Outer header fields (From, To, Subject, Date, ...); Content-* fields here are replaced. */
  headers?: HeaderInput;
}

const LF = 0x0a;
const CR = 0x0d;

function assertCanonical(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] === LF && bytes[i - 1] !== CR) || (bytes[i] === CR && bytes[i + 1] !== LF)) {
      throw new MimeBuildError(
        `signed part has a bare ${bytes[i] === LF ? 'LF' : 'CR'} at byte ${i}; canonicalize() it to CRLF before signing (RFC 8551 §3.1.1)`,
      );
    }
  }
}

function messageHeaders(headers: HeaderInput | undefined): Array<[string, string]> {
  const entries = headerEntries(headers).filter(([name]) => !name.toLowerCase().startsWith('content-'));
  return hasHeader(entries, 'mime-version') ? entries : [...entries, ['MIME-Version', '1.0']];
}

/** multipart/signed with a detached application/pkcs7-signature part (RFC 8551 §3.5.3, RFC 1847). */
export function buildMultipartSigned(input: MultipartSignedInput): Buffer {
  if (!['sha-256', 'sha-384', 'sha-512'].includes(input.micalg)) {
    throw new MimeBuildError(`micalg ${String(input.micalg)} is not one of sha-256, sha-384, sha-512`);
  }
  assertCanonical(input.signedPartBytes);
  const signaturePart = buildEntity(
    [
      ['Content-Type', 'application/pkcs7-signature; name=smime.p7s'],
      ['Content-Transfer-Encoding', 'base64'],
      ['Content-Disposition', 'attachment; filename=smime.p7s'],
      ['Content-Description', 'S/MIME Cryptographic Signature'],
    ],
    encodeBase64Lines(input.signatureDer),
  );
  const boundary = chooseBoundary([input.signedPartBytes, signaturePart]);
  const head = formatHeaders([
    ...messageHeaders(input.headers),
    [
      'Content-Type',
      `multipart/signed; protocol="application/pkcs7-signature"; micalg=${input.micalg}; boundary="${boundary}"`,
    ],
  ]);
  return Buffer.concat([
    head,
    Buffer.from(`\r\nThis is an S/MIME signed message\r\n\r\n--${boundary}\r\n`, 'latin1'),
    input.signedPartBytes,
    Buffer.from(`\r\n--${boundary}\r\n`, 'latin1'),
    signaturePart,
    Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
}

export type SmimeType = 'enveloped-data' | 'authEnveloped-data' | 'signed-data';

export interface Pkcs7MimeInput {
  der: Uint8Array;
  smimeType: SmimeType;
  headers?: HeaderInput;
}

/** application/pkcs7-mime (RFC 8551 §3.2, §3.3, §3.5.2): enveloped, auth-enveloped or opaque signed. */
export function buildPkcs7Mime(input: Pkcs7MimeInput): Buffer {
  if (!['enveloped-data', 'authEnveloped-data', 'signed-data'].includes(input.smimeType)) {
    throw new MimeBuildError(
      `smime-type ${String(input.smimeType)} is not enveloped-data, authEnveloped-data or signed-data`,
    );
  }
  return buildEntity(
    [
      ...messageHeaders(input.headers),
      ['Content-Type', `application/pkcs7-mime; smime-type=${input.smimeType}; name=smime.p7m`],
      ['Content-Transfer-Encoding', 'base64'],
      ['Content-Disposition', 'attachment; filename=smime.p7m'],
    ],
    encodeBase64Lines(input.der),
  );
}

/** Builds a multipart (mixed by default) from already-built child entities. */
export function buildMultipart(
  subtype: string,
  headers: HeaderInput,
  children: readonly Uint8Array[],
): Buffer {
  if (!/^[a-z0-9.+-]+$/i.test(subtype))
    throw new MimeBuildError(`multipart subtype ${JSON.stringify(subtype)} is not a token`);
  const boundary = chooseBoundary(children);
  const entries = [
    ...withoutHeaders(headerEntries(headers), ['content-type']),
    ['Content-Type', `multipart/${subtype}; boundary="${boundary}"`] as [string, string],
  ];
  const pieces: Buffer[] = [formatHeaders(entries), Buffer.from('\r\n')];
  for (const child of children) {
    pieces.push(Buffer.from(`--${boundary}\r\n`, 'latin1'), Buffer.from(child), Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(pieces);
}
