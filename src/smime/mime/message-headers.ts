/**
 * Splits a full RFC 5322 message into its message-level header fields and the MIME entity
 * (Content-* fields + body), and joins them back. S/MIME protects the entity; the message-level
 * fields travel outside it (RFC 8551 §3.1).
 */
import { formatHeaderField } from './builder.js';
import { parseHeaderSection } from './headers.js';
import type { MimeLimits } from './parser.js';
import { DEFAULT_MIME_LIMITS } from './parser.js';
import { canonicalize } from './canonicalize.js';

const CRLF = Buffer.from('\r\n');

/** RFC 9788 §1.1 "structural" fields: they describe the MIME tree, not the message. */
export function isStructuralField(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith('content-') || lower === 'mime-version';
}

export interface MessageField {
  name: string;
  value: string;
  /** Exact source bytes when the field came from parsed input; re-serialised otherwise. */
  raw?: Buffer;
}

export class MessageHeaders {
  private constructor(private fields: MessageField[]) {}

  static from(entries: ReadonlyArray<readonly [string, string]>): MessageHeaders {
    return new MessageHeaders(entries.map(([name, value]) => ({ name, value })));
  }

  /**
   * Splits a message. The entity keeps the Content-* fields and the body byte for byte; the outer
   * part keeps every other field (MIME-Version included) with its original bytes.
   */
  static split(message: Buffer, limits?: Partial<MimeLimits>): { outer: MessageHeaders; entity: Buffer } {
    const { outer, entity } = MessageHeaders.splitPieces(message, limits);
    return { outer, entity: Buffer.concat(entity) };
  }

  /** split, with the entity left as pieces (its header section, then the body in place): nothing is copied. */
  static splitPieces(
    message: Buffer,
    limits?: Partial<MimeLimits>,
  ): { outer: MessageHeaders; entity: Buffer[] } {
    const effective = { ...DEFAULT_MIME_LIMITS, ...limits };
    const section = parseHeaderSection(message, 0, message.length, effective);
    const outer: MessageField[] = [];
    const content: Buffer[] = [];
    for (const field of section.fields) {
      const raw = message.subarray(field.range.start, field.range.end);
      if (field.name.toLowerCase().startsWith('content-')) content.push(raw);
      else outer.push({ name: field.name, value: field.value, raw });
    }
    const body = message.subarray(section.bodyStart);
    const entityHeaders = Buffer.concat([...content.map((raw) => withFinalCrlf(canonicalize(raw))), CRLF]);
    return { outer: new MessageHeaders(outer), entity: [entityHeaders, body] };
  }

  get(name: string): string | undefined {
    const wanted = name.toLowerCase();
    return this.fields.find((field) => field.name.toLowerCase() === wanted)?.value;
  }

  getAll(name: string): string[] {
    const wanted = name.toLowerCase();
    return this.fields.filter((field) => field.name.toLowerCase() === wanted).map((field) => field.value);
  }

  /** Replaces every field of this name by one, at the first one's place (appended if none existed). */
  set(name: string, value: string): this {
    const wanted = name.toLowerCase();
    const index = this.fields.findIndex((field) => field.name.toLowerCase() === wanted);
    this.fields = this.fields.filter((field) => field.name.toLowerCase() !== wanted);
    this.fields.splice(index === -1 ? this.fields.length : index, 0, { name, value });
    return this;
  }

  remove(name: string): this {
    const wanted = name.toLowerCase();
    this.fields = this.fields.filter((field) => field.name.toLowerCase() !== wanted);
    return this;
  }

  entries(): Array<[string, string]> {
    return this.fields.map((field) => [field.name, field.value]);
  }

  list(): readonly MessageField[] {
    return this.fields;
  }

  /** Serialised fields with CRLF; parsed fields keep their exact bytes (canonicalised). */
  toBuffer(): Buffer {
    return Buffer.concat(
      this.fields.map((field) =>
        field.raw
          ? withFinalCrlf(canonicalize(field.raw))
          : Buffer.from(formatHeaderField(field.name, field.value), 'utf8'),
      ),
    );
  }

  /** The full message: these fields (plus MIME-Version if absent) followed by the entity. */
  join(entity: Buffer): Buffer {
    const mimeVersion =
      this.get('mime-version') === undefined ? Buffer.from('MIME-Version: 1.0\r\n') : Buffer.alloc(0);
    return Buffer.concat([this.toBuffer(), mimeVersion, entity]);
  }
}

function withFinalCrlf(bytes: Buffer): Buffer {
  return bytes.length >= 2 && bytes[bytes.length - 2] === 0x0d && bytes[bytes.length - 1] === 0x0a
    ? bytes
    : Buffer.concat([bytes, Buffer.from('\r\n')]);
}
