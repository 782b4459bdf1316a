/**
 * Zero-copy MIME parser: the tree holds byte offsets into the one input buffer, so a signed part's
 * exact received bytes are always at hand (signatures are checked over those bytes, never over a
 * re-serialisation). Works on CRLF, LF-only and mixed line endings; every scan is linear.
 */
import { MimeLimitError } from './errors.js';
import type { ByteRange, ContentType, HeaderField } from './headers.js';
import { findHeader, lineAt, parseContentType, parseHeaderSection } from './headers.js';
import { decodeTransferEncoding } from './transfer-encoding.js';

export interface MimeLimits {
  /** Largest input accepted, in bytes (default 1 GiB). */
  maxTotalBytes: number;
  /** Deepest nesting of multiparts / message/rfc822 (default 32). */
  maxDepth: number;
  /** Most parts in the whole tree (default 10 000). */
  maxParts: number;
  /** Most header fields in one part (default 1000). */
  maxHeaderCount: number;
  /** Longest header field, folded lines included (default 64 KiB). */
  maxHeaderLineBytes: number;
  /** Longest multipart boundary (RFC 2046 §5.1.1 allows 70). */
  maxBoundaryLength: number;
}

export const DEFAULT_MIME_LIMITS: Readonly<MimeLimits> = Object.freeze({
  maxTotalBytes: 1024 * 1024 * 1024,
  maxDepth: 32,
  maxParts: 10_000,
  maxHeaderCount: 1000,
  maxHeaderLineBytes: 64 * 1024,
  maxBoundaryLength: 70,
});

export interface MimePart {
  headers: HeaderField[];
  contentType: ContentType;
  /** The whole part: header section, blank line and body. For a multipart child this excludes the
   *  line break before the next delimiter, which belongs to the delimiter (RFC 2046 §5.1.1). */
  range: ByteRange;
  headerRange: ByteRange;
  bodyRange: ByteRange;
  /** Nesting depth, 0 for the top-level entity. */
  depth: number;
  children?: MimePart[];
  preamble?: ByteRange;
  epilogue?: ByteRange;
}

export interface MimeWarning {
  /** Byte offset the warning is about. */
  offset: number;
  message: string;
}

export interface ParsedMime extends MimePart {
  /** Recoverable defects (missing closing boundary, stray header lines, ...), in input order. */
  warnings: MimeWarning[];
}

interface ParseContext {
  raw: Buffer;
  limits: MimeLimits;
  partCount: number;
  warnings: MimeWarning[];
}

/** Parses a MIME entity or full message held in one buffer. Throws only MimeError subclasses. */
export function parseMime(raw: Buffer, limits?: Partial<MimeLimits>): ParsedMime {
  const effective: MimeLimits = { ...DEFAULT_MIME_LIMITS, ...limits };
  if (raw.length > effective.maxTotalBytes) {
    throw new MimeLimitError(
      'maxTotalBytes',
      effective.maxTotalBytes,
      `message is ${raw.length} bytes, over the ${effective.maxTotalBytes}-byte limit; raise limits.maxTotalBytes or stream it`,
    );
  }
  const context: ParseContext = { raw, limits: effective, partCount: 0, warnings: [] };
  const root = parseEntity(context, 0, raw.length, 0, 'text/plain');
  return { ...root, warnings: context.warnings };
}

/**
 * The top-level part's header section and content type only, its body left unparsed: for callers that look at
 * the top-level fields alone (protected headers, restoring a message), so a large body is not scanned for
 * boundaries. Throws only MimeError subclasses.
 */
export function parseMimeHead(raw: Buffer, limits?: Partial<MimeLimits>): MimePart {
  const effective: MimeLimits = { ...DEFAULT_MIME_LIMITS, ...limits };
  const section = parseHeaderSection(raw, 0, raw.length, effective);
  return {
    headers: section.fields,
    contentType: parseContentType(findHeader(section.fields, 'content-type'), 'text/plain'),
    range: { start: 0, end: raw.length },
    headerRange: section.range,
    bodyRange: { start: section.bodyStart, end: raw.length },
    depth: 0,
  };
}

function parseEntity(
  context: ParseContext,
  start: number,
  end: number,
  depth: number,
  defaultType: string,
): MimePart {
  const { raw, limits } = context;
  if (depth > limits.maxDepth) {
    throw new MimeLimitError(
      'maxDepth',
      limits.maxDepth,
      `MIME nesting deeper than ${limits.maxDepth} levels at byte ${start}; this looks like a nesting bomb`,
    );
  }
  context.partCount++;
  if (context.partCount > limits.maxParts) {
    throw new MimeLimitError(
      'maxParts',
      limits.maxParts,
      `message has more than ${limits.maxParts} MIME parts; raise limits.maxParts if this mail is legitimate`,
    );
  }
  const section = parseHeaderSection(raw, start, end, limits);
  for (const message of section.warnings) context.warnings.push({ offset: start, message });
  const contentType = parseContentType(findHeader(section.fields, 'content-type'), defaultType);
  const part: MimePart = {
    headers: section.fields,
    contentType,
    range: { start, end },
    headerRange: section.range,
    bodyRange: { start: section.bodyStart, end },
    depth,
  };
  if (contentType.type === 'multipart') {
    parseMultipartBody(context, part);
  } else if (contentType.mediaType === 'message/rfc822' || contentType.mediaType === 'message/global') {
    // RFC 2046 §5.2.1: an encapsulated message may only use 7bit, 8bit or binary; anything else
    // cannot be parsed in place, so it stays a leaf.
    const encoding = (findHeader(section.fields, 'content-transfer-encoding') ?? '7bit').toLowerCase();
    if (encoding === '7bit' || encoding === '8bit' || encoding === 'binary') {
      part.children = [parseEntity(context, section.bodyStart, end, depth + 1, 'text/plain')];
    }
  }
  return part;
}

/** Where a delimiter line was found: its first byte, the start of the next line, and whether it closes. */
export interface Delimiter {
  /** First byte of the line break before the delimiter (or of the delimiter at the body start). */
  before: number;
  /** Start of the line after the delimiter line. */
  after: number;
  closing: boolean;
}

function parseMultipartBody(context: ParseContext, part: MimePart): void {
  const { raw, limits } = context;
  const boundary = part.contentType.params['boundary'];
  if (boundary === undefined || boundary === '') {
    context.warnings.push({
      offset: part.range.start,
      message: `${part.contentType.mediaType} has no boundary parameter; its body is kept as one opaque part`,
    });
    return;
  }
  if (boundary.length > limits.maxBoundaryLength) {
    throw new MimeLimitError(
      'maxBoundaryLength',
      limits.maxBoundaryLength,
      `multipart boundary is ${boundary.length} characters, over the ${limits.maxBoundaryLength} allowed (RFC 2046 §5.1.1)`,
    );
  }
  const delimiter = Buffer.from('--' + boundary, 'latin1');
  const childDefault = part.contentType.mediaType === 'multipart/digest' ? 'message/rfc822' : 'text/plain';
  const { start: bodyStart, end: bodyEnd } = part.bodyRange;
  const children: MimePart[] = [];
  part.children = children;

  let found = findDelimiter(raw, delimiter, bodyStart, bodyStart, bodyEnd);
  if (!found) {
    context.warnings.push({
      offset: bodyStart,
      message: `multipart body has no "--${boundary}" delimiter line`,
    });
    part.preamble = { start: bodyStart, end: bodyEnd };
    return;
  }
  part.preamble = { start: bodyStart, end: found.before };
  while (found && !found.closing) {
    const contentStart = found.after;
    const next = findDelimiter(raw, delimiter, contentStart, bodyStart, bodyEnd);
    const contentEnd = next ? Math.max(next.before, contentStart) : bodyEnd;
    if (!next) {
      context.warnings.push({
        offset: contentStart,
        message: `multipart closing delimiter "--${boundary}--" is missing; the rest of the body is taken as the last part`,
      });
    }
    children.push(parseEntity(context, contentStart, contentEnd, part.depth + 1, childDefault));
    found = next;
  }
  if (found) part.epilogue = { start: found.after, end: bodyEnd };
}

const DASH = 0x2d;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Finds the next delimiter line "--boundary[--][padding]" at a line start within [from, bodyEnd).
 * The line break preceding it belongs to the delimiter (RFC 2046 §5.1.1).
 */
export function findDelimiter(
  raw: Buffer,
  delimiter: Buffer,
  from: number,
  bodyStart: number,
  bodyEnd: number,
): Delimiter | undefined {
  let searchFrom = from;
  while (searchFrom < bodyEnd) {
    // Bounded to this body: searching the rest of the buffer from every part would be quadratic.
    const found = raw.subarray(searchFrom, bodyEnd).indexOf(delimiter);
    if (found === -1) return undefined;
    const at = searchFrom + found;
    searchFrom = at + 1;
    if (at !== bodyStart && raw[at - 1] !== LF) continue;
    let pos = at + delimiter.length;
    const closing = raw[pos] === DASH && raw[pos + 1] === DASH && pos + 2 <= bodyEnd;
    if (closing) pos += 2;
    // Transport padding (RFC 2046 §5.1.1): whitespace up to the line break.
    const { contentEnd, next } = lineAt(raw, pos, bodyEnd);
    if (!isWhitespace(raw, pos, contentEnd)) continue;
    let before = at;
    if (at !== bodyStart) {
      before = at - 1;
      if (before > bodyStart && raw[before - 1] === CR) before--;
    }
    return { before, after: next, closing };
  }
  return undefined;
}

function isWhitespace(raw: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const byte = raw[i];
    if (byte !== 0x20 && byte !== 0x09 && byte !== CR) return false;
  }
  return true;
}

/** The exact bytes of a part as received: for a multipart/signed child, exactly what was signed. */
export function partBytes(raw: Buffer, part: MimePart): Buffer {
  return raw.subarray(part.range.start, part.range.end);
}

/** The body with its Content-Transfer-Encoding undone (base64, quoted-printable; others as is). */
export function decodeBody(raw: Buffer, part: MimePart): Buffer {
  const encoding = findHeader(part.headers, 'content-transfer-encoding') ?? '7bit';
  return decodeTransferEncoding(raw.subarray(part.bodyRange.start, part.bodyRange.end), encoding);
}

/** First value of a header field of the part, by case-insensitive name. */
export function headerValue(part: MimePart, name: string): string | undefined {
  return findHeader(part.headers, name);
}

/** All values of a header field of the part, in order. */
export function headerValues(part: MimePart, name: string): string[] {
  const wanted = name.toLowerCase();
  return part.headers.filter((field) => field.name.toLowerCase() === wanted).map((field) => field.value);
}
