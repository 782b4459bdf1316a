/**
 * A message on its way through sign/encrypt: the message-level header fields (From, To, Subject, …) and the MIME
 * entity as a stream of bytes. Every stage (sign, encrypt, sign again for a triple wrap) takes one and returns
 * one, so a 500 MB attachment flows through in chunks and is never held whole (RFC 8551 §3.1: the entity is
 * what S/MIME protects; the message-level fields travel outside it).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  DEFAULT_MIME_LIMITS,
  MessageHeaders,
  Base64LineAligner,
  canonicalize,
  encodeBase64Lines,
  outerHeaders,
  parseHeaderSection,
  toSevenBitSafePieces,
  wrapWithProtectedHeaders,
  type HpMode,
} from './mime/index.js';

/** The message is not something we can sign or encrypt; the message says what to change. */
export class SmimeMessageError extends Error {
  override name = 'SmimeMessageError';
}

/** A message in memory, or a file to stream it from. */
export type MessageInput = Buffer | { path: string };

export interface MessageStream {
  outer: MessageHeaders;
  /** The MIME entity (Content-* fields, blank line, body), read once. */
  entity: AsyncIterable<Buffer>;
  /** The entity's length in bytes, when known before it is read (in-memory messages): lets CMS use DER. */
  entityLength?: number;
  /** In memory: the entity's pieces, in order (the same bytes `entity` yields). */
  pieces?: readonly Buffer[];
  /** The whole serialised message, when a stage built it in one buffer (collectMessage returns it as is). */
  whole?: Buffer;
}

/** Up to this size a message is handled in memory, where every body can be re-encoded 7-bit safe. */
export const IN_MEMORY_LIMIT = 64 * 1024 * 1024;
/** A header section larger than this is not a mail header. */
const MAX_HEADER_SECTION = 1024 * 1024;
const CHUNK = 256 * 1024;

export interface OpenOptions {
  /** Canonical CRLF with every body re-encoded so relays cannot alter it (before signing, RFC 8551 §3.1). */
  sevenBit?: boolean;
  /** RFC 9788 header protection: move the message's fields into the entity and obscure the outside. */
  protectHeaders?: HpMode;
}

/** Split `input` into its outer fields and a stream of its (prepared) entity. */
export async function openMessageStream(input: MessageInput, o: OpenOptions = {}): Promise<MessageStream> {
  const size = Buffer.isBuffer(input) ? input.length : (await stat(input.path)).size;
  if (Buffer.isBuffer(input) || size <= IN_MEMORY_LIMIT) {
    const message = Buffer.isBuffer(input) ? input : await readWhole(input.path);
    return prepareInMemory(message, o);
  }
  const { headerBytes, bodyStart } = await readHeaderSection(input.path);
  const { outer, entityHead } = splitHeaders(headerBytes, o.protectHeaders);
  if (o.sevenBit) await assertSevenBitBody(input.path, bodyStart);
  const body = fileChunks(input.path, bodyStart);
  return { outer, entity: prepend(entityHead, o.sevenBit ? canonicalLines(body) : body) };
}

function prepareInMemory(message: Buffer, o: OpenOptions): MessageStream {
  if (o.protectHeaders) {
    const outer = outerHeaders(message, o.protectHeaders);
    const entity = wrapWithProtectedHeaders(message, o.protectHeaders);
    return inPieces(outer, o.sevenBit ? toSevenBitSafePieces(entity) : [entity]);
  }
  // The entity stays in pieces (header section, then views of the body) so the whole message is copied once,
  // when the output is collected, not at each step.
  const { outer, entity } = MessageHeaders.splitPieces(message);
  return inPieces(
    outer,
    o.sevenBit ? toSevenBitSafePieces(message, undefined, { contentFieldsOnly: true }) : entity,
  );
}

function inPieces(outer: MessageHeaders, pieces: readonly Buffer[]): MessageStream {
  return { outer, entity: chunksOf(pieces), entityLength: pieces.reduce((n, p) => n + p.length, 0), pieces };
}

/**
 * The stream with its entity read into pieces (references, not copies), so its length is known: for in-memory
 * messages, where a later stage (encryption) can then write definite lengths.
 */
export async function inMemory(m: MessageStream): Promise<MessageStream> {
  if (m.entityLength !== undefined) return m;
  const pieces: Buffer[] = [];
  for await (const chunk of m.entity) pieces.push(chunk);
  return inPieces(m.outer, pieces);
}

/** The header fields (with the blank line) of a prepared entity, and the outer fields. */
function splitHeaders(
  headerBytes: Buffer,
  protect: HpMode | undefined,
): { outer: MessageHeaders; entityHead: Buffer } {
  if (protect) {
    return {
      outer: outerHeaders(headerBytes, protect),
      entityHead: canonicalize(wrapWithProtectedHeaders(headerBytes, protect)),
    };
  }
  const { outer, entity } = MessageHeaders.split(headerBytes);
  return { outer, entityHead: entity };
}

async function readWhole(path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(path)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The header section of a file, blank line included, and where its body starts. */
export async function readHeaderSection(path: string): Promise<{ headerBytes: Buffer; bodyStart: number }> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_HEADER_SECTION);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    const section = parseHeaderSection(head, 0, head.length, DEFAULT_MIME_LIMITS);
    if (section.bodyStart >= head.length) {
      throw new SmimeMessageError(
        `no blank line ends the header section within the first ${MAX_HEADER_SECTION} bytes: is this an RFC 5322 message?`,
      );
    }
    return { headerBytes: Buffer.from(head.subarray(0, section.bodyStart)), bodyStart: section.bodyStart };
  } finally {
    await handle.close();
  }
}

/** The bytes of `path` from `start` up to `end` (exclusive; default the end of the file), in chunks. */
export async function* fileChunks(path: string, start: number, end?: number): AsyncIterable<Buffer> {
  if (end !== undefined && end <= start) return;
  const range = end === undefined ? { start } : { start, end: end - 1 };
  for await (const chunk of createReadStream(path, { ...range, highWaterMark: CHUNK })) yield chunk as Buffer;
}

/**
 * A large body is signed as it is, only its line breaks made CRLF: that is safe only when it is already 7-bit
 * with lines a relay keeps (RFC 5322 §2.1.1). Such mail (base64 attachments) is the normal case; anything else is
 * refused rather than re-encoded in memory.
 */
async function assertSevenBitBody(path: string, start: number): Promise<void> {
  let line = 0;
  let offset = start;
  for await (const chunk of fileChunks(path, start)) {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (byte === 0x0a || byte === 0x0d) line = 0;
      else if (byte === 0 || byte >= 0x80 || ++line > 998) {
        throw new SmimeMessageError(
          `the body has 8-bit data or a line over 998 bytes near byte ${offset + i}; messages over ${IN_MEMORY_LIMIT} bytes must use base64 or quoted-printable parts to be signed`,
        );
      }
    }
    offset += chunk.length;
  }
}

export async function* chunksOf(pieces: readonly Buffer[]): AsyncIterable<Buffer> {
  yield* pieces;
}

export async function* prepend(head: Buffer, rest: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  yield head;
  yield* rest;
}

/** Line breaks made CRLF across chunk boundaries (RFC 8551 §3.1.1 canonical form). */
export async function* canonicalLines(chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  let pendingCr = false;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    let piece = chunk;
    if (pendingCr) {
      // A CR ended the previous chunk: it was held back to see whether an LF follows.
      piece =
        chunk[0] === 0x0a
          ? Buffer.concat([Buffer.from('\r'), chunk])
          : Buffer.concat([Buffer.from('\r\n'), chunk]);
    }
    pendingCr = piece[piece.length - 1] === 0x0d;
    const body = pendingCr ? piece.subarray(0, piece.length - 1) : piece;
    yield canonicalize(body);
  }
  if (pendingCr) yield Buffer.from('\r\n');
}

/**
 * Base64 in 76-column CRLF lines (RFC 2045 §6.8), streamed: 57 input bytes make one line. Only the few bytes
 * that complete a line across chunks are copied; the rest of each chunk is encoded where it lies.
 */
export async function* base64Lines(chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const aligner = new Base64LineAligner();
  for await (const chunk of chunks) for (const run of aligner.push(chunk)) yield encodeBase64Lines(run);
  const last = aligner.end();
  if (last) yield encodeBase64Lines(last);
}

/** The outer fields as they head the serialised message (MIME-Version added when absent). */
export function outerBytes(outer: MessageHeaders): Buffer {
  return outer.join(Buffer.alloc(0));
}

/** The whole message: outer fields (plus MIME-Version), then the entity. */
export async function* serializeMessage(m: MessageStream): AsyncIterable<Buffer> {
  if (m.whole) return yield m.whole;
  yield outerBytes(m.outer);
  yield* m.entity;
}

/** The whole message in one buffer: the one a stage already built, or the pieces joined. */
export async function collectMessage(m: MessageStream): Promise<Buffer> {
  return m.whole ?? collect(serializeMessage(m));
}

export async function collect(
  chunks: AsyncIterable<Buffer>,
  limit = Number.MAX_SAFE_INTEGER,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total > limit) throw new SmimeMessageError(`more than ${limit} bytes; use the file (streaming) API`);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Write the chunks to a file or stream, waiting for the writer to drain (backpressure). */
export async function writeChunks(chunks: AsyncIterable<Buffer>, out: string | Writable): Promise<void> {
  const stream = typeof out === 'string' ? createWriteStream(out) : out;
  try {
    for await (const chunk of chunks) {
      if (!stream.write(chunk)) await once(stream, 'drain');
    }
  } catch (e) {
    if (typeof out === 'string') stream.destroy();
    throw e;
  }
  if (typeof out === 'string') {
    stream.end();
    await finished(stream);
  }
}
